"""One kernel message, decoded once and shared by every listener.

The shared client hands each listener ``(channel, parts)`` where ``parts`` is
``[header, parent_header, metadata, content, *buffers]`` as raw bytes: that is
nextgen-kernels-api's listener contract and stays true here, because
:class:`KernelMessage` *is* that list. On top of it, the pieces every consumer
needs are computed at most once per message, however many listeners there are:
the decoded headers, the cell id carried in the parent msg id, and the v1
websocket payload (with nextgen's ``channel:`` / ``#cell`` msg-id encoding
stripped) and its websocket frame, which every browser websocket writes as the
same ``bytes`` object.
"""

from __future__ import annotations

import json
import struct
from functools import cached_property
from typing import Any

from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from nextgen_kernels_api.services.kernels.message_utils import parse_msg_id


def split_msg_id(msg_id: str) -> tuple[str | None, str | None, str]:
    """``"shell:abc#cell-1"`` -> ``("shell", "cell-1", "abc")``; plain and empty ids pass through."""
    return parse_msg_id(msg_id) if msg_id else (None, None, "")


def _unpack(raw: bytes) -> dict[str, Any]:
    return json.loads(raw.decode("utf8", "replace")) if raw else {}


def _pack(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf8", "surrogateescape")


class KernelMessage(list):
    """``[header, parent_header, metadata, content, *buffers]`` with cached views."""

    __slots__ = ("channel", "__dict__")

    def __init__(self, channel: str, parts: list[bytes]):
        super().__init__(parts)
        self.channel = channel

    @cached_property
    def header(self) -> dict[str, Any]:
        return _unpack(self[0])

    @cached_property
    def parent_header(self) -> dict[str, Any]:
        return _unpack(self[1])

    @cached_property
    def content(self) -> dict[str, Any]:
        return _unpack(self[3])

    @property
    def msg_type(self) -> str:
        return self.header.get("msg_type", "")

    @cached_property
    def _parent_id_parts(self) -> tuple[str | None, str | None, str]:
        return split_msg_id(self.parent_header.get("msg_id") or "")

    @property
    def parent_msg_id(self) -> str:
        """The parent's msg id without nextgen's channel/cell encoding."""
        return self._parent_id_parts[2]

    @property
    def parent_channel(self) -> str | None:
        """The channel the parent request was sent on (``shell``/``control``), if encoded."""
        return self._parent_id_parts[0]

    @property
    def cell_id(self) -> str | None:
        """The notebook cell the parent request came from, if the sender said so."""
        return self._parent_id_parts[1]

    @cached_property
    def ws_v1(self) -> bytes:
        """The v1 websocket frame, msg ids restored to what the front end sent."""
        parts = list(self)
        header = self.header
        if "msg_id" in header:
            _, _, base = split_msg_id(header["msg_id"])
            if base != header["msg_id"]:
                parts[0] = _pack({**header, "msg_id": base})
        parent_id = self.parent_header.get("msg_id")
        if parent_id and self.parent_msg_id != parent_id:
            parts[1] = _pack({**self.parent_header, "msg_id": self.parent_msg_id})
        return serialize_msg_to_ws_v1(parts, self.channel)

    @cached_property
    def ws_frame(self) -> bytes:
        """The complete server-to-client websocket frame (RFC 6455: FIN, binary, unmasked,
        uncompressed) carrying :attr:`ws_v1`: written as is to every websocket."""
        payload = self.ws_v1
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x82, n)
        elif n <= 0xFFFF:
            header = struct.pack("!BBH", 0x82, 126, n)
        else:
            header = struct.pack("!BBQ", 0x82, 127, n)
        return header + payload
