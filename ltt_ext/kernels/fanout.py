"""All raw-frame websockets of one kernel behind one listener: one write per websocket per loop turn.

A py-spy profile of 100 websockets receiving ``display(i)`` × 2000 (about 21 µs of
server CPU per delivered frame) spent 90 % of the event loop in tornado's
``IOStream.write``: per frame and per websocket a ``Future``, a done callback, a
buffer append and a ``send()`` system call. Here, instead:

- the group is a single route of the shared client, so a message costs one
  listener call whatever the number of websockets;
- a message every websocket receives (IOPub) appends its pre-built frame once to
  the turn's shared list (one per protocol); the frames of one loop turn are
  joined once and that one ``bytes`` object is written to every websocket;
- the write goes straight to the socket while tornado has nothing queued for it
  (``IOStream.socket`` and ``IOStream.writing()`` are public), so a websocket that
  keeps up costs one ``send()`` per turn and no ``Future``; whatever the socket
  does not take goes through ``IOStream.write`` as before, which keeps tornado's
  ordering, its buffer limit (``max_backlog_bytes``: 1013 close) and its errors;
- a websocket that gets a message of its own this turn (a reply, a prompt, its own
  id restored) is detached for the rest of the turn with a copy of the shared
  frames so far, so every websocket still receives its frames in routing order.

tornado's server side never masks frames, so a frame built once is valid on every
connection; websockets with per-message compression are not in the group (tornado
must compress each one) and keep their own listener.
"""

from __future__ import annotations

import asyncio
import typing as t

from tornado.iostream import IOStream

from .message import KernelMessage

if t.TYPE_CHECKING:
    from .websocket import SharedClientWebsocketConnection


class WebsocketGroup:
    """The raw-frame websockets of one kernel's shared client."""

    def __init__(self, client) -> None:
        self.client = client
        self.members: dict[SharedClientWebsocketConnection, None] = {}  # ordered set
        self._v1: list[bytes] = []  # frames every v1 websocket gets this turn
        self._json: list[bytes] = []  # frames every JSON-protocol websocket gets this turn
        self._own: dict[SharedClientWebsocketConnection, list[bytes]] = {}  # detached this turn
        self._n_v1 = 0
        self._n_json = 0
        self._scheduled = False

    def __len__(self) -> int:
        return len(self.members)

    def add(self, conn: SharedClientWebsocketConnection) -> None:
        # Frames routed before it joined are not its own: send them to the others first.
        self.flush()
        self.members[conn] = None
        if conn.v1:
            self._n_v1 += 1
        else:
            self._n_json += 1
        self.client.add_listener(self)  # idempotent; again after the client closed its routes

    def remove(self, conn: SharedClientWebsocketConnection) -> None:
        if conn not in self.members:
            return
        del self.members[conn]
        self._own.pop(conn, None)
        if conn.v1:
            self._n_v1 -= 1
        else:
            self._n_json -= 1
        if not self.members:
            self._v1.clear()
            self._json.clear()
            self.client.remove_listener(self)

    # -- routing (called synchronously by the shared client for every message) -----------

    def __call__(self, channel: str, msg: KernelMessage) -> None:
        request = msg.request
        if channel != "iopub":
            # Replies and prompts belong to the connection that asked (or, for the server's own
            # requests, to the connection the server routed them to).
            if request is not None and request.origin in self.members:
                self.send_own(request.origin, request.origin.frame_for(msg))
            return
        special = None
        if request is not None and request.origin_msg_id is not None and request.origin in self.members:
            # Its sender's id had to be made unique for the kernel: that sender reads its own back.
            special = request.origin
            self.send_own(special, special.frame_for(msg))
        v1 = msg.ws_frame if self._n_v1 else b""
        js = msg.ws_json_frame if self._n_json else b""
        if v1:
            self._v1.append(v1)
        if js:
            self._json.append(js)
        for conn, own in self._own.items():
            if conn is not special:
                own.append(v1 if conn.v1 else js)
        self._schedule()

    def send_own(self, conn: SharedClientWebsocketConnection, frame: bytes) -> None:
        """A frame for ``conn`` alone, after everything routed to it before."""
        own = self._own.get(conn)
        if own is None:
            own = self._own[conn] = list(self._v1 if conn.v1 else self._json)
        own.append(frame)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            # The routing loop goes on with every message ZMQ already has; this runs after it
            # yields, so one turn's frames leave in one write per websocket.
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # called from outside the event loop (a thread): write now
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not (self._v1 or self._json or self._own):
            return
        v1 = _join(self._v1)
        js = _join(self._json)
        own = self._own
        self._v1, self._json, self._own = [], [], {}
        for conn in list(self.members):
            mine = own.get(conn)
            data = _join(mine) if mine is not None else (v1 if conn.v1 else js)
            if data:
                conn.write_raw(data)


def _join(frames: list[bytes]) -> bytes:
    if len(frames) == 1:
        return frames[0]
    return b"".join(frames)


def write_to_stream(stream: IOStream, data: bytes | memoryview) -> None:
    """Write ``data`` to ``stream`` (tornado's errors propagate: closed, buffer full).

    While tornado has nothing queued for this stream the bytes go to the socket at once: that
    skips the ``Future`` and done callback ``IOStream.write`` makes for every call. The rest (a
    full socket buffer, a TLS stream) goes through ``IOStream.write``, which keeps the order.
    """
    if type(stream) is IOStream and not stream.writing() and not stream.closed():
        try:
            sent = stream.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # reset / broken pipe: IOStream.write below closes the stream and raises
        if sent == len(data):
            return
        if sent:
            data = memoryview(data)[sent:]
    stream.write(data)
