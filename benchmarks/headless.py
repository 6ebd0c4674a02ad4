"""Headless outputs: a notebook cell printing N lines, run with no browser attached, through
jupyter-server-documents' `POST /api/kernels/<id>/execute`; time until the .ipynb on disk holds
every line, and the server's peak RSS."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

from jupyter_server_documents.rooms.ynotebook_room import _source_hash

from .fanout import RssSampler

CELL_ID = "bench-headless-cell"


def notebook(source: str, cell_id: str = CELL_ID) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": cell_id,
                "source": source,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
        ],
    }


async def create_notebook_session(server, path: str, source: str, cell_id: str = CELL_ID) -> dict:
    await server.request(
        "PUT",
        f"/api/contents/{path}",
        {"type": "notebook", "format": "json", "content": notebook(source, cell_id)},
    )
    session = await server.request(
        "POST",
        "/api/sessions",
        {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}},
        timeout=60,
    )
    return session


def disk_state(nb_file, cell_id: str = CELL_ID) -> dict:
    try:
        nb = json.loads(nb_file.read_text())
    except (OSError, ValueError):
        return {"lines": 0, "outputs": 0, "execution_count": None, "readable": False}
    for cell in nb.get("cells", []):
        if cell.get("id") == cell_id:
            text = []
            other = 0
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    t = out.get("text", "")
                    text.append("".join(t) if isinstance(t, list) else t)
                else:
                    other += 1
            joined = "".join(text)
            return {
                "lines": joined.count("\n"),
                "outputs": len(cell.get("outputs", [])),
                "non_stream_outputs": other,
                "execution_count": cell.get("execution_count"),
                "tail": joined[-40:],
                "readable": True,
            }
    return {"lines": 0, "outputs": 0, "execution_count": None, "readable": True}


async def headless_run(server, n_lines: int = 100_000, timeout: float = 120.0) -> dict:
    path = "headless.ipynb"
    source = f"for i in range({n_lines}):\n    print(i)"
    session = await create_notebook_session(server, path, source)
    kid = session["kernel"]["id"]
    out: dict = {"n_lines": n_lines}
    try:
        fid = await server.request("GET", "/api/fileid/id?path=" + urllib.parse.quote(path))
        document_id = f"json:notebook:{fid['id']}"
        body = {
            "document_id": document_id,
            "cells": [{"cell_id": CELL_ID, "source_hash": _source_hash(source)}],
        }
        nb_file = server.root / path
        # the room loads asynchronously after the session is created: retry 400s for a while
        deadline = time.monotonic() + 30
        while True:
            try:
                await server.settle(5)
                with RssSampler(server) as rs:
                    t0 = time.perf_counter()
                    await server.request("POST", f"/api/kernels/{kid}/execute", body, timeout=30)
                    state = {}
                    while time.perf_counter() - t0 < timeout:
                        state = disk_state(nb_file)
                        if state["lines"] >= n_lines and state.get("execution_count"):
                            break
                        await asyncio.sleep(0.1)
                    t_disk = time.perf_counter() - t0
                break
            except Exception as e:
                code = getattr(e, "code", None)
                if code == 400 and time.monotonic() < deadline:
                    await asyncio.sleep(0.3)
                    continue
                raise
        out.update(
            {
                "complete": state.get("lines", 0) >= n_lines,
                "time_to_disk": t_disk if state.get("lines", 0) >= n_lines else None,
                "waited": t_disk,
                "disk": state,
                "rss_start": rs.start_rss,
                "rss_peak": rs.peak,
            }
        )
    finally:
        try:
            await server.request("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        except Exception:
            pass
    return out
