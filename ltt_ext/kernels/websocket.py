"""Browser websockets as listeners on the shared kernel client.

Differences from nextgen-kernels-api's connection class, each for a measured reason:

- the websocket frame is built once per message (``KernelMessage.ws_frame``) and
  the same bytes go to every websocket: stock nextgen re-decodes and re-encodes
  the headers per websocket, building a ``Session`` each time;
- ``TCP_NODELAY`` is set: tornado leaves Nagle on, so every small frame after
  the first waited for the browser's delayed ACK (~40 ms per cell);
- a client that stops reading is bounded: past ``max_backlog_bytes`` of unsent
  data it is closed (1013, with the reason) instead of growing server memory;
- ``connections`` is counted (idle culler, dashboards) and a new websocket gets
  the kernel's current state at once, not a status broadcast to everyone.
"""

from __future__ import annotations

import json

from jupyter_server.services.kernels.connection.base import (
    BaseKernelWebsocketConnection,
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.websocket import WebSocketClosedError
from traitlets import Int

from .message import KernelMessage

# RFC 6455 "Try Again Later": the server is overloaded for this client.
CLOSE_TOO_SLOW = 1013


class SharedClientWebsocketConnection(BaseKernelWebsocketConnection):
    """One browser websocket, attached to its kernel's shared client."""

    kernel_ws_protocol = "v1.kernel.websocket.jupyter.org"

    max_backlog_bytes = Int(
        64 * 1024 * 1024,
        config=True,
        help="Unsent bytes a websocket may accumulate before it is closed as too slow (0: no limit).",
    )

    _attached = False
    _raw_frames = False

    @property
    def client(self):
        return self.kernel_manager.kernel_client

    async def connect(self):
        handler = self.websocket_handler
        handler.set_nodelay(True)
        stream = getattr(handler.ws_connection, "stream", None)
        if stream is not None and self.max_backlog_bytes:
            stream.max_write_buffer_size = self.max_backlog_bytes
        # Without per-message compression, a frame is just a header and the payload: write the
        # one built for all websockets. tornado's write_message would rebuild it and make a Task
        # per websocket per message (over half the routing time at W=10 in a py-spy profile).
        self._raw_frames = handler.get_compression_options() is None
        self.client.add_listener(self.handle_outgoing_message)
        self._attached = True
        self.multi_kernel_manager.notify_connect(self.kernel_id)
        self._send_current_state()
        self.log.debug("Kernel websocket attached to shared client of %s", self.kernel_id)

    def disconnect(self):
        if not self._attached:
            return
        self._attached = False
        try:
            self.client.remove_listener(self.handle_outgoing_message)
        except Exception:  # the kernel may already be gone
            pass
        self.multi_kernel_manager.notify_disconnect(self.kernel_id)

    def _send_current_state(self) -> None:
        state = self.kernel_manager.execution_state
        if not state or state == "unknown":
            return
        session = self.client.session
        msg = session.msg("status", content={"execution_state": state})
        parts = [session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
        self._write(serialize_msg_to_ws_v1(parts, "iopub"))

    def handle_incoming_message(self, incoming_msg: bytes) -> None:
        """Browser -> kernel: tag the msg id with channel and cell so every listener
        (notebook writer, tutor) knows which cell a reply belongs to."""
        channel, parts = deserialize_msg_from_ws_v1(incoming_msg)
        if channel not in ("shell", "control", "stdin") or len(parts) < 4:
            self.log.warning("Ignoring kernel websocket message on channel %r", channel)
            return
        try:
            header = json.loads(parts[0])
            cell_id = json.loads(parts[2]).get("cellId") if parts[2] else None
        except (ValueError, AttributeError):
            self.log.warning("Ignoring undecodable kernel websocket message")
            return
        msg_id = header.get("msg_id", "")
        tagged = msg_id if msg_id.startswith(f"{channel}:") else f"{channel}:{msg_id}"
        if cell_id and "#" not in tagged and ":" not in cell_id and "#" not in cell_id:
            tagged = f"{tagged}#{cell_id}"
        if tagged != msg_id:
            header["msg_id"] = tagged
            parts[0] = json.dumps(header).encode()
        self.client.handle_incoming_message(channel, parts)

    def handle_outgoing_message(self, channel: str, msg: list) -> None:
        """Kernel -> browser: write the shared frame; never block, never raise."""
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if self._raw_frames:
            self._write_frame(msg.ws_frame)
        else:
            self._write(msg.ws_v1)

    def _write_frame(self, frame: bytes) -> None:
        ws = self.websocket_handler.ws_connection
        if ws is None or ws.is_closing():
            self.disconnect()
            return
        try:
            ws.stream.write(frame)
        except StreamClosedError:
            self.disconnect()
        except StreamBufferFullError:
            self._close_too_slow()

    def _write(self, payload: bytes) -> None:
        handler = self.websocket_handler
        try:
            handler.write_message(payload, binary=True)
        except (WebSocketClosedError, StreamClosedError):
            self.disconnect()
        except StreamBufferFullError:
            self._close_too_slow()

    def _close_too_slow(self) -> None:
        self.log.warning(
            "Closing kernel websocket for %s: the client stopped reading (%d bytes unsent).",
            self.kernel_id, self.max_backlog_bytes,
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
