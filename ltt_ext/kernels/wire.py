"""Reading what a client sends on a kernel websocket, validated before anything is allocated.

jupyter_server's ``deserialize_msg_from_ws_v1`` trusts the frame: eight arbitrary
bytes were read as ~8.4e18 offsets and a list that size was built. Here every
offset is checked against the frame before a single part is sliced, and the JSON
protocol's messages are checked for the shape the kernel needs.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

CHANNELS = ("shell", "control", "stdin")
# channel + header, parent header, metadata, content + buffers: far fewer than this.
MAX_PARTS = 1024


class MalformedMessage(ValueError):
    """A client sent something that is not a kernel message (the text says what)."""


def parse_v1(frame: bytes) -> tuple[str, list[bytes]]:
    """``(channel, [header, parent_header, metadata, content, *buffers])`` of a v1 frame."""
    if not isinstance(frame, bytes):
        raise MalformedMessage("text frame on the v1 protocol (binary frames expected)")
    size = len(frame)
    if size < 8:
        raise MalformedMessage("frame shorter than its offset count")
    count = int.from_bytes(frame[:8], "little")
    # offsets: channel start, part starts..., end; at least channel + 4 parts.
    if not 6 <= count <= MAX_PARTS + 2 or size < 8 * (count + 1):
        raise MalformedMessage(f"bad offset count {min(count, 2**63)}")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] != size:
        raise MalformedMessage("offsets do not span the frame")
    if any(b < a for a, b in pairwise(offsets)):
        raise MalformedMessage("offsets not increasing")
    try:
        channel = frame[offsets[0] : offsets[1]].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedMessage("undecodable channel name") from None
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    return channel, parts


def parse_json(data: str | bytes) -> tuple[str | None, dict[str, Any]]:
    """``(channel, msg)`` of a JSON-protocol message (text, or upstream's binary form)."""
    buffers: list[bytes] = []
    if isinstance(data, bytes):
        data, buffers = _split_binary(data)
    try:
        msg = json.loads(data)
    except (ValueError, TypeError, IndexError, RecursionError, OverflowError) as e:
        raise MalformedMessage(f"not a JSON kernel message ({type(e).__name__})") from None
    if not isinstance(msg, dict):
        raise MalformedMessage("not a JSON object")
    if buffers:
        msg["buffers"] = buffers
    channel = msg.pop("channel", None)
    if channel is not None and not isinstance(channel, str):
        raise MalformedMessage("channel is not a string")
    return channel, msg


def _split_binary(data: bytes) -> tuple[bytes, list[bytes]]:
    """Upstream's binary JSON message (``serialize_binary_message``): a big-endian count,
    that many offsets, the JSON, then the buffers. Checked before anything is sliced
    (upstream's reader builds a format string as long as whatever count it is sent)."""
    size = len(data)
    if size < 8:
        raise MalformedMessage("binary message shorter than its header")
    count = int.from_bytes(data[:4], "big")
    if not 1 <= count <= MAX_PARTS or size < 4 * (count + 1):
        raise MalformedMessage("bad buffer count")
    offsets = [int.from_bytes(data[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    if offsets[0] < 4 * (count + 1) or any(b < a for a, b in pairwise(offsets)) or offsets[-1] > size:
        raise MalformedMessage("bad buffer offsets")
    ends = [*offsets[1:], size]
    return data[offsets[0] : ends[0]], [data[a:b] for a, b in zip(offsets[1:], ends[1:], strict=True)]


def check_header(header: Any) -> dict[str, Any]:
    """The header as a dict with string ``msg_id`` and ``msg_type``."""
    if not isinstance(header, dict):
        raise MalformedMessage("header is not an object")
    if not isinstance(header.get("msg_id"), str) or not isinstance(header.get("msg_type"), str):
        raise MalformedMessage("header without msg_id/msg_type strings")
    return header


def decode_part(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except (ValueError, RecursionError) as e:
        raise MalformedMessage(f"undecodable {what} ({type(e).__name__})") from None
    if not isinstance(value, dict):
        raise MalformedMessage(f"{what} is not an object")
    return value
