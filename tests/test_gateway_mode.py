"""A server configured with ``--gateway-url`` (kernels are remote): ltt-ext leaves Jupyter Server's
gateway classes in force and says so. The gateway is a real second ltt-ext server."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from ltt_ext.testing import MCP_ANY_PORT, free_port
from ltt_ext.testing import stop_process as stop


def api(base, token, path, method="GET", body=None):
    req = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}"},
    )
    with urllib.request.urlopen(req, timeout=90) as r:
        return r.status, json.loads(r.read() or b"null")


class Server:
    def __init__(self, tmp_path, name, *extra):
        self.dir = tmp_path / name
        (self.dir / "root").mkdir(parents=True)
        self.port, self.token = free_port(), uuid.uuid4().hex
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
            "JUPYTER_DATA_DIR": str(self.dir / "data"),
        }
        env.pop("JUPYTER_GATEWAY_URL", None)
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.dir / 'root'}",
            f"--BaseFileIdManager.db_path={self.dir / 'fileid.db'}",
            f"--Tutor.db_path={self.dir / 'tutor.db'}",
            MCP_ANY_PORT,
            *extra,
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.log = open(self.dir / "server.log", "w+")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return
            except OSError as e:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} did not start:\n{self.output()}") from e
                time.sleep(0.2)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def api(self, path, method="GET", body=None):
        return api(self.base, self.token, path, method, body)

    def stop(self):
        stop(self.proc)
        self.log.close()


@pytest.fixture
def gateway_pair(tmp_path):
    """(gateway, server): the second one sends its kernels to the first."""
    started = []
    try:
        gateway = Server(tmp_path, "gateway")
        started.append(gateway)
        server = Server(
            tmp_path, "server", f"--gateway-url={gateway.base}", f"--GatewayClient.auth_token={gateway.token}"
        )
        started.append(server)
        yield gateway, server
    finally:
        for s in reversed(started):
            s.stop()


def run_over_json_websocket(server, kid, code):
    """Run ``code`` through the server's kernel websocket with the JSON protocol (no
    subprotocol: what the gateway client itself speaks); return the stream text."""
    from websocket import create_connection  # websocket-client, a jupyter_server dependency

    ws = create_connection(
        f"{server.base.replace('http', 'ws')}/api/kernels/{kid}/channels"
        f"?token={server.token}&session_id={uuid.uuid4().hex}",
        timeout=90,
    )
    try:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "channel": "shell",
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": uuid.uuid4().hex,
                        "username": "",
                        "version": "5.3",
                        "date": "2026-01-01T00:00:00Z",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        text = ""
        while True:
            msg = json.loads(ws.recv())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return text
    finally:
        ws.close()


def test_gateway_classes_stay_in_force_and_kernels_run_remotely(gateway_pair):
    gateway, server = gateway_pair
    said = [line for line in server.output().splitlines() if "ltt_ext: kernels run on the gateway" in line]
    assert len(said) == 1, server.output()
    assert gateway.base in said[0] and "GatewayMappingKernelManager" in said[0]
    assert "GatewaySessionManager" in said[0] and "GatewayWebSocketConnection" in said[0]

    # Before: ltt-ext's local manager got the gateway's async kernelspec manager: 500 here.
    code, kernel = server.api("/api/kernels", "POST", {"name": "python3"})
    assert code == 201
    kid = kernel["id"]
    assert kid in [k["id"] for k in gateway.api("/api/kernels")[1]]

    assert run_over_json_websocket(server, kid, "print(6 * 7)") == "42\n"
    assert server.api(f"/api/kernels/{kid}", "DELETE")[0] == 204
    assert kid not in [k["id"] for k in gateway.api("/api/kernels")[1]]

    code, session = server.api(
        "/api/sessions",
        "POST",
        {"path": "lesson.ipynb", "name": "lesson.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert code == 201
    assert session["kernel"]["id"] in [k["id"] for k in gateway.api("/api/kernels")[1]]
    assert server.api(f"/api/sessions/{session['id']}", "DELETE")[0] == 204
    assert gateway.api("/api/kernels")[1] == []  # deleting a session shuts its kernel down

    # The tutor degrades cleanly: it answers, it is not attached to remote kernels.
    assert server.api("/ltt/api/tutor/info")[0] == 200

    server.stop()
    assert server.proc.returncode == 0
    log = open(server.dir / "server.log").read()
    assert "Traceback" not in log, log
