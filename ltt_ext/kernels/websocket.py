"""Kernel websockets as listeners on the shared kernel client.

A drop-in for upstream's connection, on one shared client:

- both protocols, chosen per connection as upstream chooses them
  (``select_subprotocol``): v1 binary frames for clients that offer
  ``v1.kernel.websocket.jupyter.org``, the JSON protocol of the messaging docs for
  the others (the gateway client, ``jupyter-kernel-client``, scripts). Each
  representation is built at most once per message and the same bytes go to
  every websocket of that protocol;
- shell, control and stdin messages go only to the connection that sent their
  request (upstream: each websocket has its own ZMQ sockets); IOPub is broadcast;
  message ids come back exactly as the client sent them;
- what a client sends is validated before anything is allocated (``wire``); a
  malformed frame is logged in one line and closes the connection with 1007;
- ``TCP_NODELAY`` is set: tornado leaves Nagle on, so every small frame after
  the first waited for the browser's delayed ACK (~40 ms per cell);
- a client that stops reading is bounded: past ``max_backlog_bytes`` of unsent
  data it is closed (1013, with the reason) instead of growing server memory;
- ``connections`` is counted (idle culler, dashboards) and a new websocket gets
  the kernel's current state at once, not a status broadcast to everyone.
"""

from __future__ import annotations

import asyncio

from jupyter_server.services.kernels.connection.base import BaseKernelWebsocketConnection
from tornado import web
from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.websocket import WebSocketClosedError
from traitlets import Int

from .fanout import WebsocketGroup, write_to_stream
from .message import KernelMessage, ws_frame
from .wire import CHANNELS, MalformedMessage, check_header, decode_part, parse_json, parse_v1

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"

# RFC 6455 "Try Again Later": the server is overloaded for this client.
CLOSE_TOO_SLOW = 1013
# RFC 6455 "Invalid frame payload data": the client sent something that is not a kernel message.
CLOSE_MALFORMED = 1007


class SharedClientWebsocketConnection(BaseKernelWebsocketConnection):
    """One websocket, attached to its kernel's shared client."""

    kernel_ws_protocol = V1_PROTOCOL

    max_backlog_bytes = Int(
        64 * 1024 * 1024,
        config=True,
        help="Unsent bytes a websocket may accumulate before it is closed as too slow (0: no limit).",
    )

    _attached = False
    _raw_frames = False
    _group: WebsocketGroup | None = None
    v1 = True

    @property
    def client(self):
        return self.kernel_manager.kernel_client

    async def prepare(self):
        """Refuse a kernel that failed to start, as upstream does (it awaits ``ready``)."""
        ready = getattr(self.kernel_manager, "ready", None)
        if ready is None:
            return
        if not isinstance(ready, asyncio.Future):
            ready = asyncio.wrap_future(ready)
        try:
            await ready
        except Exception as e:
            self.kernel_manager.execution_state = "dead"
            self.kernel_manager.reason = str(e)
            raise web.HTTPError(500, f"Kernel {self.kernel_id} failed to start: {e}") from e

    async def connect(self):
        handler = self.websocket_handler
        self.v1 = handler.selected_subprotocol == V1_PROTOCOL
        handler.set_nodelay(True)
        stream = getattr(handler.ws_connection, "stream", None)
        if stream is not None and self.max_backlog_bytes:
            stream.max_write_buffer_size = self.max_backlog_bytes
        # Without per-message compression, a frame is just a header and the payload: write the
        # one built for all websockets. tornado's write_message would rebuild it and make a Task
        # per websocket per message (over half the routing time at W=10 in a py-spy profile).
        # Such websockets join the kernel's group (see .fanout: one write per loop turn).
        self._raw_frames = handler.get_compression_options() is None
        client = self.client
        self._group = getattr(client, "websockets", None) if self._raw_frames else None
        if self._group is not None:
            self._group.add(self)
        else:
            client.add_listener(self.handle_outgoing_message)
        if self.session.session:
            client.ws_sessions[self.session.session] = self
        self._attached = True
        self.multi_kernel_manager.notify_connect(self.kernel_id)
        self._send_current_state()
        self.log.debug(
            "Kernel websocket (%s) attached to the shared client of %s",
            "v1" if self.v1 else "JSON",
            self.kernel_id,
        )

    def disconnect(self):
        if not self._attached:
            return
        self._attached = False
        try:
            client = self.client
            if self._group is not None:
                self._group.remove(self)
            else:
                client.remove_listener(self.handle_outgoing_message)
            client.requests.forget_origin(self)
            if client.ws_sessions.get(self.session.session) is self:
                del client.ws_sessions[self.session.session]
        except Exception:  # the kernel may already be gone
            pass
        self.multi_kernel_manager.notify_disconnect(self.kernel_id)

    def _send_current_state(self) -> None:
        state = self.kernel_manager.execution_state
        # Not "restarting": JupyterLab reconnects when told so, and hearing it again on the new
        # connection reads as a second death (a second dialog); the restarted kernel's own
        # status reaches this websocket as soon as it is up.
        if not state or state in ("unknown", "restarting"):
            return
        session = self.client.session
        msg = session.msg("status", content={"execution_state": state})
        parts = [session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
        kmsg = KernelMessage("iopub", parts)
        if self._group is not None:
            self._group.send_own(self, self.frame_for(kmsg))
        else:
            self.handle_outgoing_message("iopub", kmsg)

    # -- client -> kernel ------------------------------------------------------------------

    def handle_incoming_message(self, incoming_msg) -> None:
        try:
            self._forward(incoming_msg)
        except MalformedMessage as e:
            # One line, no traceback and no URL (it carries the token when given as a query).
            self.log.warning("Closing kernel websocket for %s: malformed message (%s).", self.kernel_id, e)
            self.disconnect()
            self.websocket_handler.close(CLOSE_MALFORMED, f"malformed kernel message: {e}"[:120])

    def _forward(self, incoming_msg) -> None:
        channel: str | None
        parts: list[bytes] | list[bytes | memoryview]
        if self.v1:
            channel, parts = parse_v1(incoming_msg)
            header = check_header(decode_part(parts[0], "header"))
            metadata = decode_part(parts[2], "metadata")
        else:
            channel, msg = parse_json(incoming_msg)
            if channel is None:
                channel = "shell"  # upstream's assumption for JSON messages
            header = check_header(msg.get("header"))
            metadata = msg.get("metadata") or {}
            parent = msg.get("parent_header") or {}
            content = msg.get("content") or {}
            if not all(isinstance(x, dict) for x in (metadata, parent, content)):
                raise MalformedMessage("parent_header, metadata and content must be objects")
            pack = self.client.session.pack
            buffers = msg.get("buffers") or []
            parts = [
                pack(header),
                pack(parent),
                pack(metadata),
                pack(content),
                *(b for b in buffers if isinstance(b, (bytes, memoryview))),
            ]
        if channel not in CHANNELS:
            self.log.warning("Ignoring a kernel websocket message on channel %r", channel[:20])
            return
        allowed = self.multi_kernel_manager.allowed_message_types
        if allowed and header["msg_type"] not in allowed:
            self.log.warning(
                'Received message of type "%s", which is not allowed. Ignoring.', header["msg_type"][:40]
            )
            return
        cell_id = metadata.get("cellId")
        self.client.send_request(
            channel, parts, header, cell_id=cell_id if isinstance(cell_id, str) else None, origin=self
        )

    # -- kernel -> client ------------------------------------------------------------------

    def handle_outgoing_message(self, channel: str, msg: list) -> None:
        """Kernel -> client: write the shared frame; never block, never raise."""
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        request = msg.request
        if channel != "iopub":
            # Replies and prompts belong to the connection that asked (or, for the server's own
            # requests, to the connection the server routed them to).
            if request is None or request.origin is not self:
                return
            if request.origin_msg_id is not None:
                payload, binary = msg.ws_payload_for_origin(self.v1)
                self._write(payload, binary)
                return
        elif request is not None and request.origin is self and request.origin_msg_id is not None:
            payload, binary = msg.ws_payload_for_origin(self.v1)
            self._write(payload, binary)
            return
        if self.v1:
            if self._raw_frames:
                self._write_frame(msg.ws_frame)
            else:
                self._write(msg.ws_v1, True)
        elif self._raw_frames:
            self._write_frame(msg.ws_json_frame)
        else:
            self._write(*msg.ws_json)

    def frame_for(self, msg: KernelMessage) -> bytes:
        """The websocket frame of ``msg`` for this connection (raw-frame connections only)."""
        request = msg.request
        if request is not None and request.origin is self and request.origin_msg_id is not None:
            payload, binary = msg.ws_payload_for_origin(self.v1)
            return ws_frame(payload, 0x82 if binary else 0x81)
        return msg.ws_frame if self.v1 else msg.ws_json_frame

    def write_raw(self, data: bytes) -> None:
        """Write complete websocket frames (the group's one write per loop turn)."""
        self._write_frame(data)

    def _write_frame(self, frame: bytes) -> None:
        ws = self.websocket_handler.ws_connection
        if ws is None or ws.is_closing():
            self.disconnect()
            return
        stream = ws.stream
        assert stream is not None  # an open (not closing) connection has its stream
        try:
            write_to_stream(stream, frame)
        except StreamClosedError:
            self.disconnect()
        except StreamBufferFullError:
            self._close_too_slow()

    def _write(self, payload: bytes, binary: bool) -> None:
        handler = self.websocket_handler
        try:
            if self._raw_frames:
                self._write_frame(ws_frame(payload, 0x82 if binary else 0x81))
            else:
                handler.write_message(payload if binary else payload.decode("utf8", "replace"), binary=binary)
        except (WebSocketClosedError, StreamClosedError):
            self.disconnect()
        except StreamBufferFullError:
            self._close_too_slow()

    def _close_too_slow(self) -> None:
        self.log.warning(
            "Closing kernel websocket for %s: the client stopped reading (%d bytes unsent).",
            self.kernel_id,
            self.max_backlog_bytes,
        )
        self.disconnect()
        handler = self.websocket_handler
        stream = getattr(handler.ws_connection, "stream", None)
        if stream is not None:
            stream.max_write_buffer_size = None  # room for the close frame
        try:
            # tornado aborts the TCP connection if the close handshake does not finish.
            handler.close(CLOSE_TOO_SLOW, "client too slow: kernel message backlog over limit")
        except Exception:
            if stream is not None:
                stream.close()
