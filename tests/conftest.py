"""Fixtures for driving a real server: kernels, v1 kernel websockets, notebooks, sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import nbformat
import pytest

from ltt_ext.testing import MCP_ANY_PORT, V1, KernelWS, free_port, stop_process


@pytest.fixture
def start_kernel(jp_fetch, jp_serverapp):
    async def _start() -> str:
        r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
        kid = json.loads(r.body)["id"]
        client = jp_serverapp.kernel_manager.get_kernel(kid).kernel_client
        assert await client.wait_for_connection_ready(timeout=60)
        return kid

    return _start


@pytest.fixture
def kernel_ws(jp_ws_fetch):
    opened: list[KernelWS] = []

    async def _open(kernel_id: str) -> KernelWS:
        conn = await jp_ws_fetch(
            "api",
            "kernels",
            kernel_id,
            "channels",
            params={"session_id": uuid.uuid4().hex},
            subprotocols=[V1],
        )
        ws = KernelWS(conn)
        opened.append(ws)
        return ws

    yield _open
    for ws in opened:
        ws.conn.close()
        ws._reader.cancel()


@pytest.fixture
def make_notebook(jp_root_dir):
    """Write a notebook of code cells with fixed ids; returns (path, [cell ids])."""

    def _make(sources: list[str], name: str = "lesson.ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, id=f"cell-{i}") for i, src in enumerate(sources)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, jp_root_dir / name)
        return name, [c.id for c in nb.cells]

    return _make


@pytest.fixture
def notebook_session(jp_fetch, jp_serverapp):
    """Open a notebook session the way JupyterLab does; returns (session model, room)."""

    async def _open(path: str, kernel_id: str | None = None):
        body = {
            "path": path,
            "name": path.rsplit("/", 1)[-1],
            "type": "notebook",
            "kernel": {"id": kernel_id} if kernel_id else {"name": "python3"},
        }
        r = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
        session = json.loads(r.body)
        kid = session["kernel"]["id"]
        client = jp_serverapp.kernel_manager.get_kernel(kid).kernel_client
        assert await client.wait_for_connection_ready(timeout=60)
        settings = jp_serverapp.web_app.settings
        room_id = f"json:notebook:{settings['file_id_manager'].index(path)}"
        room = settings["yroom_manager"].get_room(room_id)
        await room.get_jupyter_ydoc()
        return session, room

    return _open


@pytest.fixture
def server_subprocess(tmp_path):
    """`jupyter server` as users run it (ltt_ext enabled by its installed config file)."""
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONWARNINGS": "default",
    }
    port, token = free_port(), "secret-token"
    root = tmp_path / "root"
    root.mkdir()
    args = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--BaseFileIdManager.db_path={tmp_path / 'fileid.db'}",
        f"--Tutor.db_path={tmp_path / 'tutor.db'}",
        MCP_ANY_PORT,
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError as e:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                log.seek(0)
                raise RuntimeError(f"server did not start:\n{log.read()}") from e
            time.sleep(0.2)
    yield proc, base, token, log
    stop_process(proc)
    log.close()
