"""Who sent each request to the kernel, so replies go back to their sender.

Upstream Jupyter Server gives every websocket its own ZMQ sockets, so a shell,
control or stdin reply reaches only the connection that asked. With one shared
client per kernel that routing is ours to do: every request sent through the
shared client is remembered here by its msg id, with its sender (a websocket
connection, or ``None`` for the server itself), its channel and the notebook
cell it came from. Message ids are never rewritten on their way to the kernel,
so every client gets back exactly the ids it sent; only when two senders use
the same id while the first is still in flight is the second one's id made
unique for the kernel (and restored in what that sender reads).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

# Requests remembered per kernel. A request is looked up by the kernel's messages that name it
# as their parent; those arrive within its execution, so a few thousand is generous.
MAX_REQUESTS = 10_000


class Request:
    """One message sent to the kernel."""

    __slots__ = ("msg_id", "msg_type", "channel", "cell_id", "origin", "origin_msg_id", "replied")

    def __init__(
        self,
        msg_id: str,
        msg_type: str,
        channel: str,
        cell_id: str | None,
        origin: Any,
        origin_msg_id: str | None = None,
    ):
        self.msg_id = msg_id  # the id the kernel sees
        self.msg_type = msg_type
        self.channel = channel
        self.cell_id = cell_id
        self.origin = origin  # the sending connection; None: the server
        self.origin_msg_id = origin_msg_id  # the sender's own id, when it had to be changed
        self.replied = False


class RequestRegistry:
    """The requests in flight on one kernel, oldest forgotten first."""

    def __init__(self, capacity: int = MAX_REQUESTS):
        self.capacity = capacity
        self._requests: OrderedDict[str, Request] = OrderedDict()
        self._unique = itertools.count(1)

    def add(
        self, msg_id: str, msg_type: str, channel: str, cell_id: str | None = None, origin: Any = None
    ) -> Request:
        """Remember a request; returns it with the id to send (``request.msg_id``)."""
        previous = self._requests.get(msg_id)
        origin_msg_id = None
        if previous is not None and previous.origin is not origin:
            # Another sender's request with this id may still be answered: keep them apart.
            origin_msg_id = msg_id
            msg_id = f"{msg_id}~ltt{next(self._unique)}"
        request = Request(msg_id, msg_type, channel, cell_id, origin, origin_msg_id)
        self._requests[msg_id] = request
        self._requests.move_to_end(msg_id)
        while len(self._requests) > self.capacity:
            self._requests.popitem(last=False)
        return request

    def get(self, msg_id: str | None) -> Request | None:
        return self._requests.get(msg_id) if msg_id else None

    def pending(self) -> list[Request]:
        """Requests still waiting for their reply (shell and control)."""
        return [r for r in self._requests.values() if not r.replied and r.channel != "stdin"]

    def forget_origin(self, origin: Any) -> None:
        """A connection went away: its requests' replies now have nobody to go to."""
        for request in self._requests.values():
            if request.origin is origin:
                request.origin = _GONE

    def clear(self) -> None:
        self._requests.clear()


class _Gone:
    """The origin of a request whose connection has closed."""

    def __repr__(self) -> str:
        return "<closed connection>"


_GONE = _Gone()
