"""Test helpers for ltt-ext and its downstream users: a v1 kernel websocket client that
records what it reads, and polling on real state (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time

import nbformat
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.websocket import WebSocketClosedError

V1 = "v1.kernel.websocket.jupyter.org"
# jupyter-server-mcp (installed for the tests) listens on port 3001 in every server it is enabled in:
# servers started side by side by tests get any free port instead.
MCP_ANY_PORT = "--MCPExtensionApp.mcp_port=0"
# Debian's chromium, headless, as the browser tests (Playwright) launch it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def execute_content(code: str, allow_stdin: bool = False) -> dict:
    """The content of an ``execute_request`` as JupyterLab sends it."""
    return {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": allow_stdin,
        "stop_on_error": True,
    }


class KernelWS:
    """A v1 kernel websocket client, like JupyterLab's: it sends, and records what it reads."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.session = Session()
        self.messages: list[tuple[str, dict]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self.closed = False

    async def _read(self):
        while True:
            frame = await self.conn.read_message()
            if frame is None:
                self.closed = True
                self._new.set()
                return
            channel, parts = deserialize_msg_from_ws_v1(frame)
            msg = {
                "header": json.loads(parts[0]),
                "parent_header": json.loads(parts[1]),
                "metadata": json.loads(parts[2]),
                "content": json.loads(parts[3]),
            }
            self.messages.append((channel, msg))
            self._new.set()

    def send(self, channel: str, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg = self.session.msg(msg_type, content=content, metadata=metadata or {})
        parts = [self.session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
        self.conn.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
        return msg["header"]["msg_id"]

    def execute(self, code: str, cell_id: str | None = None) -> str:
        metadata = {"cellId": cell_id} if cell_id else {}
        return self.send("shell", "execute_request", execute_content(code), metadata)

    def replies_to(self, msg_id: str, msg_type: str | None = None) -> list[dict]:
        return [
            m
            for _, m in self.messages
            if m["parent_header"].get("msg_id") == msg_id
            and (msg_type is None or m["header"]["msg_type"] == msg_type)
        ]

    async def wait_for(self, predicate, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            for item in self.messages:
                if predicate(*item):
                    return item
            if self.closed:
                raise AssertionError("websocket closed while waiting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = [(ch, m["header"]["msg_type"], str(m["content"])[:80]) for ch, m in self.messages[-5:]]
                raise AssertionError(f"timed out after {len(self.messages)} messages; last: {last}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_idle(self, msg_id: str, timeout: float = 60.0) -> dict:
        _, msg = await self.wait_for(
            lambda ch, m: (
                m["header"]["msg_type"] == "status"
                and m["parent_header"].get("msg_id") == msg_id
                and m["content"]["execution_state"] == "idle"
            ),
            timeout,
        )
        return msg

    async def close(self):
        self.conn.close()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, WebSocketClosedError):
            pass


def read_notebook(root, path):
    """The notebook on disk, or None while the server is halfway through writing it."""
    try:
        return nbformat.read(root / path, as_version=4)
    except (ValueError, nbformat.reader.NotJSONError):
        return None


async def wait_for_cell(root, path, index, predicate, timeout: float = 60.0):
    """Wait until cell ``index`` of the notebook on disk satisfies ``predicate``; return it."""

    def check():
        nb = read_notebook(root, path)
        cell = nb.cells[index] if nb is not None else None
        return cell if cell is not None and predicate(cell) else None

    return await wait_until(check, timeout=timeout)


async def wait_until(predicate, timeout: float = 60.0, interval: float = 0.05):
    """Poll a condition on real state (never a fixed sleep standing in for an assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM first, so a server shuts its kernels down; SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
