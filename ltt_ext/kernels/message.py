"""One kernel message, decoded once and shared by every listener.

The shared client hands each listener ``(channel, parts)`` where ``parts`` is
``[header, parent_header, metadata, content, *buffers]`` as raw bytes: that is
nextgen-kernels-api's listener contract and stays true here, because
:class:`KernelMessage` *is* that list. On top of it, the pieces every consumer
needs are computed at most once per message, however many listeners there are:
the decoded headers, the request it answers (see :mod:`.requests`: its sender,
channel and notebook cell), and each websocket representation — the v1 frame
and the JSON frame of the messaging docs — built only if some websocket uses
it, then written as the same ``bytes`` object to every websocket.
"""

from __future__ import annotations

import json
import struct
from functools import cached_property
from typing import Any

from jupyter_server.services.kernels.connection.base import (
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from .requests import Request

# RFC 6455 opcodes of a final, unmasked, uncompressed frame.
_TEXT, _BINARY = 0x81, 0x82


def _unpack(raw: bytes) -> dict[str, Any]:
    return json.loads(raw.decode("utf8", "replace")) if raw else {}


def _pack(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf8", "surrogateescape")


def ws_frame(payload: bytes, opcode: int = _BINARY) -> bytes:
    """A complete server-to-client websocket frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", opcode, n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", opcode, 126, n)
    else:
        header = struct.pack("!BBQ", opcode, 127, n)
    return header + payload


class KernelMessage(list):
    """``[header, parent_header, metadata, content, *buffers]`` with cached views."""

    __slots__ = ("channel", "request", "__dict__")

    def __init__(self, channel: str, parts: list[bytes], request: Request | None = None):
        super().__init__(parts)
        self.channel = channel
        self.request = request  # the request this message answers, if the server sent it

    @cached_property
    def header(self) -> dict[str, Any]:
        return _unpack(self[0])

    @cached_property
    def parent_header(self) -> dict[str, Any]:
        return _unpack(self[1])

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return _unpack(self[2])

    @cached_property
    def content(self) -> dict[str, Any]:
        return _unpack(self[3])

    @property
    def msg_type(self) -> str:
        return self.header.get("msg_type", "")

    @property
    def parent_msg_id(self) -> str:
        """The msg id of the request this message answers, as the kernel saw it."""
        return self.parent_header.get("msg_id") or ""

    @property
    def parent_channel(self) -> str | None:
        """The channel the parent request was sent on (``shell``/``control``/``stdin``)."""
        return self.request.channel if self.request is not None else None

    @property
    def cell_id(self) -> str | None:
        """The notebook cell the parent request came from, if its sender said so."""
        return self.request.cell_id if self.request is not None else None

    @property
    def origin(self) -> Any:
        """The connection that sent the parent request (None: the server, or unknown)."""
        return self.request.origin if self.request is not None else None

    # -- websocket representations ------------------------------------------------------

    @cached_property
    def ws_v1(self) -> bytes:
        """The v1 websocket payload: the kernel's bytes, unchanged."""
        return serialize_msg_to_ws_v1(list(self), self.channel)

    @cached_property
    def ws_frame(self) -> bytes:
        """The websocket frame carrying :attr:`ws_v1`, written as is to every v1 websocket."""
        return ws_frame(self.ws_v1)

    def json_dict(self, parent_header: dict[str, Any] | None = None) -> dict[str, Any]:
        """The message as the JSON protocol (and upstream's ``Session.deserialize``) shape it."""
        header = self.header
        return {
            "header": header,
            "msg_id": header.get("msg_id"),
            "msg_type": header.get("msg_type"),
            "parent_header": self.parent_header if parent_header is None else parent_header,
            "metadata": self.metadata,
            "content": self.content,
            "buffers": [bytes(b) for b in self[4:]],
            "channel": self.channel,
        }

    def _json_payload(self, msg: dict[str, Any]) -> tuple[bytes, int]:
        if msg["buffers"]:
            # Upstream's format for messages with binary buffers (one binary websocket message).
            return serialize_binary_message(msg), _BINARY
        text = json.dumps(msg, ensure_ascii=False, default=str)
        return text.encode("utf8", "surrogateescape"), _TEXT

    @cached_property
    def ws_json(self) -> tuple[bytes, bool]:
        """The JSON protocol's payload and whether it goes as a binary message (buffers)."""
        payload, opcode = self._json_payload(self.json_dict())
        return payload, opcode == _BINARY

    @cached_property
    def ws_json_frame(self) -> bytes:
        """The websocket frame of the JSON protocol, written as is to every JSON websocket."""
        payload, binary = self.ws_json
        return ws_frame(payload, _BINARY if binary else _TEXT)

    def ws_payload_for_origin(self, protocol_v1: bool) -> tuple[bytes, bool]:
        """For the sender of a request whose msg id had to be made unique: its own id back."""
        request = self.request
        assert request is not None and request.origin_msg_id is not None
        parent = {**self.parent_header, "msg_id": request.origin_msg_id}
        if protocol_v1:
            parts = list(self)
            parts[1] = _pack(parent)
            return serialize_msg_to_ws_v1(parts, self.channel), True
        payload, opcode = self._json_payload(self.json_dict(parent))
        return payload, opcode == _BINARY
