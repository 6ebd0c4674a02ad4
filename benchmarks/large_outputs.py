"""Large outputs in the notebook's YDoc vs kept out of it (ltt-ext's LargeOutputsManager).

One notebook, two cells — 100,000 printed lines, a 5 MB image — run over a kernel websocket with
their cell ids (as any front end does). Then: the server YDoc's size, the server's RSS, and what a
second tab pays to open the notebook: the collaboration websocket's sync (SyncStep1 → SyncStep2,
applied to a local pycrdt Doc), and then the large outputs it fetches from /api/outputs.
Each case runs on a fresh server (`--LargeOutputsManager.inline_limit=0` keeps every output in the
YDoc, as before; the default moves the large ones out), so memory figures do not carry over.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
from pycrdt import Array, Doc, YMessageType, YSyncMessageType, create_sync_message, handle_sync_message

from .fanout import RssSampler
from .wsclient import KernelClient

CELLS = {
    "lines": "for i in range(100000):\n    print(i)",
    "image": (
        "import base64, os\n"
        "display({'image/png': base64.b64encode(os.urandom(3_750_000)).decode()}, raw=True)"
    ),
}


def _notebook(sources: dict[str, str]) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": "code",
                "id": cell_id,
                "source": src,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
            for cell_id, src in sources.items()
        ],
    }


async def second_tab(server, file_id: str) -> dict:
    """Open the notebook's room as a new tab would: sync the YDoc, then fetch moved outputs."""
    url = f"{server.ws_base}/api/collaboration/room/json:notebook:{file_id}"
    doc = Doc()
    t0 = time.perf_counter()
    received = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=server.headers(), max_msg_size=0) as ws:
            await ws.send_bytes(create_sync_message(doc))
            got_state = answered = False
            # The server sends its state (SyncStep2) and asks for ours (SyncStep1): a client that
            # does not answer holds the room's message queue for 5 s.
            while not (got_state and answered):
                msg = await asyncio.wait_for(ws.receive(), 60)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    raise RuntimeError(f"room websocket: {msg.type}")
                data = msg.data
                received += len(data)
                if data[0] != YMessageType.SYNC:
                    continue
                reply = handle_sync_message(data[1:], doc)
                if data[1] == YSyncMessageType.SYNC_STEP2:
                    got_state = True
                elif data[1] == YSyncMessageType.SYNC_STEP1 and reply is not None:
                    await ws.send_bytes(reply)
                    answered = True
            t_sync = time.perf_counter() - t0
    cells = doc.get("cells", type=Array).to_py() or []
    urls = [
        o["metadata"]["url"]
        for c in cells
        for o in c.get("outputs", [])
        if isinstance(o.get("metadata"), dict) and o["metadata"].get("url")
    ]
    fetched = 0
    for u in urls:
        r = await server.request("GET", u, raw=True, timeout=60)
        fetched += len(r.body)
    return {
        "sync_s": t_sync,
        "sync_bytes": received,
        "open_with_outputs_s": time.perf_counter() - t0,
        "fetched_bytes": fetched,
        "placeholders": len(urls),
    }


async def one_case(server, timeout: float = 180.0) -> dict:
    inline_limit = (await server.request("GET", "/bench/probe/outputs"))["inline_limit"]
    path = f"large-{uuid.uuid4().hex[:8]}.ipynb"
    await server.request(
        "PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json", "content": _notebook(CELLS)}
    )
    session = await create_notebook_session_for(server, path)
    kid = session["kernel"]["id"]
    probe = await server.request("GET", f"/bench/probe/ydoc?path={path}")
    out: dict = {"inline_limit": inline_limit, "ydoc_bytes_empty": probe["update_bytes"]}
    client = KernelClient(server, kid)
    await client.connect()
    try:
        await server.settle()
        out["rss_before"] = server.rss()
        cpu0 = server.cpu_seconds()
        with RssSampler(server) as rs:
            for cell_id, code in CELLS.items():
                run = client.execute(code, cell_id=cell_id)
                await asyncio.wait_for(run.done.wait(), timeout)
            # the writer applies outputs as they come; the .ipynb follows on autosave
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not _on_disk(server, path):
                await asyncio.sleep(0.2)
        out["on_disk"] = _on_disk(server, path)
        out["server_cpu"] = server.cpu_seconds() - cpu0
        out["rss_peak"] = rs.peak
        await server.settle()
        out["rss_after"] = server.rss()
        probe = await server.request("GET", f"/bench/probe/ydoc?path={path}")
        out["ydoc_bytes"] = probe["update_bytes"]
        out["ydoc_outputs_json_bytes"] = probe["outputs_json_bytes"]
        tabs = [await second_tab(server, probe["file_id"]) for _ in range(3)]
        out["second_tab"] = sorted(tabs, key=lambda x: x["sync_s"])[1]  # the median of 3
        out["rss_after_tabs"] = server.rss()
    finally:
        client.close()
        await server.request("DELETE", f"/api/sessions/{session['id']}")
    return out


async def create_notebook_session_for(server, path: str) -> dict:
    return await server.request(
        "POST",
        "/api/sessions",
        {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}},
        timeout=60,
    )


def _on_disk(server, path: str) -> bool:
    try:
        nb = json.loads((server.root / path).read_text())
    except (OSError, ValueError):
        return False
    cells = {c["id"]: c for c in nb["cells"]}
    # nbformat may write multiline strings as lists of lines
    lines = "".join(_text(o.get("text", "")) for o in cells["lines"]["outputs"]).count("\n")
    image = [o for o in cells["image"]["outputs"] if "image/png" in o.get("data", {})]
    return lines == 100000 and bool(image) and len(_text(image[0]["data"]["image/png"])) == 5_000_000


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


__all__ = ["one_case", "second_tab"]
