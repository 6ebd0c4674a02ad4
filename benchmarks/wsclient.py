"""A minimal kernel websocket client speaking the v1 protocol (v1.kernel.websocket.jupyter.org).

Frame layout (jupyter_server.services.kernels.connection.base.serialize_msg_to_ws_v1):
  8 bytes little-endian N, then N 8-byte offsets, then channel, header, parent_header, metadata,
  content, buffers...   The client parses only what it needs (msg_type, parent msg_id, status,
  stream text) so that 50 clients in one harness process do not become the bottleneck.
It uses tornado's websocket client as is: no TCP_NODELAY/QUICKACK tricks.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

PROTOCOL = "v1.kernel.websocket.jupyter.org"
CLIENT_IMPL = "aiohttp"  # or "tornado" (pure Python frame parsing: slower with many clients)

_MSG_TYPE = re.compile(rb'"msg_type":\s*"([^"]+)"')
_MSG_ID = re.compile(rb'"msg_id":\s*"([^"]+)"')
_STATE = re.compile(rb'"execution_state":\s*"([^"]+)"')
_unpack_n = struct.Struct("<Q").unpack_from


def make_execute(
    code: str, session: str, cell_id: str | None = None, msg_id: str | None = None
) -> tuple[str, bytes]:
    msg_id = msg_id or uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "username": "bench",
        "session": session,
        "date": datetime.now(timezone.utc).isoformat(),
        "version": "5.3",
    }
    metadata = {"cellId": cell_id} if cell_id else {}
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    parts = [json.dumps(x).encode() for x in (header, {}, metadata, content)]
    return msg_id, serialize_msg_to_ws_v1(parts, "shell")


@dataclass
class Run:
    """What one client saw of one execute request."""

    msg_id: str
    t_sent: float
    t_first: float | None = None
    t_last: float | None = None
    t_idle: float | None = None
    t_reply: float | None = None
    msgs: int = 0
    displays: int = 0
    stream_lines: int = 0
    stream_msgs: int = 0
    errors: list = field(default_factory=list)
    last_text: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)


class KernelClient:
    """One websocket on /api/kernels/<id>/channels."""

    def __init__(self, server, kernel_id: str, name: str = ""):
        self.server = server
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        self.name = name
        self.conn = None
        self.runs: dict[str, Run] = {}
        self.total_msgs = 0
        self.t_last_msg = 0.0
        self.closed = asyncio.Event()
        self.protocol = None
        self.keep_last_text = False
        # stream lines whose parent is no tracked request (a kernel attributing output elsewhere)
        self.untracked_lines = 0
        self.untracked_parents: dict[str, int] = {}

    async def connect(self, timeout: float = 15.0) -> None:
        url = f"{self.server.ws_base}/api/kernels/{self.kernel_id}/channels?session_id={self.session}"
        if CLIENT_IMPL == "aiohttp":
            return await self._connect_aiohttp(url, timeout)
        req = HTTPRequest(
            url, headers=self.server.headers(), connect_timeout=timeout, request_timeout=timeout
        )
        self.conn = await asyncio.wait_for(
            websocket_connect(
                req,
                subprotocols=[PROTOCOL],
                on_message_callback=self._on_message,
                max_message_size=512 * 1024 * 1024,
            ),
            timeout,
        )
        self.protocol = self.conn.selected_subprotocol
        if self.protocol != PROTOCOL:
            raise RuntimeError(f"server did not accept {PROTOCOL} (got {self.protocol!r})")

    async def _connect_aiohttp(self, url: str, timeout: float) -> None:
        # aiohttp parses frames in C, so 50 clients in one process keep up with the server.
        # It turns TCP_NODELAY on for its sockets; we turn it back off: a plain client.
        self._session = aiohttp.ClientSession()
        self.conn = await self._session.ws_connect(
            url,
            protocols=[PROTOCOL],
            headers=self.server.headers(),
            max_msg_size=0,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            compress=0,
        )
        sock = self.conn.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        self.protocol = self.conn.protocol
        if self.protocol != PROTOCOL:
            raise RuntimeError(f"server did not accept {PROTOCOL} (got {self.protocol!r})")
        self._reader = asyncio.ensure_future(self._read_aiohttp())

    async def _read_aiohttp(self) -> None:
        ws = self.conn
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self._on_message(msg.data)
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        except Exception:
            pass
        finally:
            self.closed.set()

    def _write(self, frame: bytes) -> None:
        if CLIENT_IMPL == "aiohttp":
            asyncio.ensure_future(self.conn.send_bytes(frame))
        else:
            self.conn.write_message(frame, binary=True)

    def close(self) -> None:
        if self.conn is not None:
            if CLIENT_IMPL == "aiohttp":
                conn, session = self.conn, self._session

                async def _close():
                    try:
                        await asyncio.wait_for(conn.close(), 3)
                    except Exception:
                        pass
                    await session.close()

                asyncio.ensure_future(_close())
            else:
                self.conn.close()
            self.conn = None

    def track(self, msg_id: str, t_sent: float) -> Run:
        run = Run(msg_id, t_sent)
        self.runs[msg_id] = run
        return run

    def execute(self, code: str, cell_id: str | None = None) -> Run:
        msg_id, frame = make_execute(code, self.session, cell_id)
        run = self.track(msg_id, time.perf_counter())
        self._write(frame)
        return run

    def send_execute_tracked(
        self, code: str, extra_clients: list[KernelClient], cell_id: str | None = None
    ) -> str:
        msg_id, frame = make_execute(code, self.session, cell_id)
        t = time.perf_counter()
        self.track(msg_id, t)
        for c in extra_clients:
            if c is not self:
                c.track(msg_id, t)
        self._write(frame)
        return msg_id

    def _on_message(self, frame) -> None:
        now = time.perf_counter()
        if frame is None:
            self.closed.set()
            return
        if isinstance(frame, str):
            return
        self.total_msgs += 1
        self.t_last_msg = now
        try:
            # Only the header and parent offsets are read (jupyter_server's full decode of every
            # frame would make 50 clients in one process the bottleneck of the measurement).
            n = _unpack_n(frame, 0)[0]
            offs = struct.unpack_from(f"<{n}Q", frame, 8)
            header = frame[offs[1] : offs[2]]
            parent = frame[offs[2] : offs[3]]
            m = _MSG_ID.search(parent)
            if not m:
                return
            pid = m.group(1).decode()
            run = self.runs.get(pid)
            if run is None:
                # kernels add "#cellid"/channel prefixes in some implementations: tolerate them
                base = pid.split("#", 1)[0].split(":")[-1]
                run = self.runs.get(base)
                if run is None:
                    if _MSG_TYPE.search(header).group(1) == b"stream":
                        content = frame[offs[4] : offs[5]] if n > 5 else frame[offs[4] :]
                        k = json.loads(content)["text"].count("\n")
                        self.untracked_lines += k
                        self.untracked_parents[pid] = self.untracked_parents.get(pid, 0) + k
                    return
            run.msgs += 1
            if run.t_first is None:
                run.t_first = now
            run.t_last = now
            mt = _MSG_TYPE.search(header).group(1)
            if mt == b"status":
                content = frame[offs[4] : offs[5]] if n > 5 else frame[offs[4] :]
                s = _STATE.search(content)
                if s and s.group(1) == b"idle" and run.t_idle is None:
                    run.t_idle = now
                    run.done.set()
            elif mt == b"display_data":
                run.displays += 1
            elif mt == b"stream":
                content = frame[offs[4] : offs[5]] if n > 5 else frame[offs[4] :]
                text = json.loads(content)["text"]
                run.stream_msgs += 1
                run.stream_lines += text.count("\n")
                if self.keep_last_text:
                    run.last_text = text
            elif mt == b"execute_reply":
                run.t_reply = now
            elif mt == b"error":
                content = frame[offs[4] : offs[5]] if n > 5 else frame[offs[4] :]
                run.errors.append((now, json.loads(content), json.loads(header)))
        except Exception:  # a malformed frame must not kill the callback
            pass


class StalledSocket:
    """A raw websocket that completes the handshake and then never reads again.

    Its receive buffer is shrunk first so that the server's writes back up quickly.
    """

    def __init__(self, server, kernel_id: str):
        self.server, self.kernel_id = server, kernel_id
        self.sock: socket.socket | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(timeout)
        await loop.run_in_executor(None, s.connect, ("127.0.0.1", self.server.port))
        import base64
        import os

        key = base64.b64encode(os.urandom(16)).decode()
        req = (
            f"GET /api/kernels/{self.kernel_id}/channels?session_id={uuid.uuid4().hex} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self.server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n"
            f"Authorization: token {self.server.token}\r\n\r\n"
        ).encode()
        await loop.run_in_executor(None, s.sendall, req)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await loop.run_in_executor(None, s.recv, 1)  # read the headers only
            if not chunk:
                raise RuntimeError("stalled socket: connection closed during handshake")
            data += chunk
        if b" 101 " not in data.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"stalled socket handshake failed: {data[:200]!r}")
        self.sock = s

    def drain_state(self) -> str:
        """After the run: read whatever is there without blocking: 'open' or 'closed by server'."""
        if self.sock is None:
            return "none"
        self.sock.setblocking(False)
        got = 0
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return f"closed by server (after {got} buffered bytes)"
                got += len(chunk)
        except BlockingIOError:
            return "still open"
        except OSError as e:
            return f"reset ({e.__class__.__name__})"

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
