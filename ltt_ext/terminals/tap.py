"""Listening to jupyter_server_terminals' terminals without a second reader of the PTY.

terminado reads each PTY once, in ``TermManagerBase.pty_read``, and hands every chunk to each
object in ``PtyWithClients.clients`` (``client.on_pty_read(text)``; ``client.on_pty_died()`` at
EOF). The terminal websockets (``TermSocket``) are such clients; so is a :class:`TerminalTap`,
appended to that list when the terminal starts. The websockets are untouched: they keep
getting every chunk, in order, from the same read; the tap only copies a reference to the text
and returns (its owner processes it later, off the read path, and never raises into terminado's
loop, which would starve the clients after it). ``resize_to_smallest`` reads each client's
``size``: the tap has none, so it never constrains the terminal's size.

To see each new terminal, the manager's ``start_reading`` (public; terminado calls it for every
terminal it creates, named or not, REST or websocket) is wrapped *on this instance*: terminado's
``TermManagerBase`` exposes no creation hook, and jupyter_server_terminals' ``terminal_manager_class``
is not configurable. No private member is touched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

OnOutput = Callable[[str, str], None]  # (terminal name, text)
OnClosed = Callable[[str], None]


class TerminalTap:
    """A read-only client of one terminal in terminado's fan-out list."""

    size = (None, None)  # no size: resize_to_smallest skips it

    def __init__(
        self, name: str, terminal: Any, on_output: OnOutput, on_closed: OnClosed, log: logging.Logger
    ):
        self.name = name
        self.terminal = terminal
        self.on_output = on_output
        self.on_closed = on_closed
        self.log = log

    def on_pty_read(self, text: str) -> None:
        try:
            self.on_output(self.name, text)
        except Exception:  # never into terminado's loop: the websockets after us would miss this chunk
            self.log.debug("ltt terminals: tap of %s failed", self.name, exc_info=True)

    def on_pty_died(self) -> None:
        try:
            self.on_closed(self.name)
        except Exception:
            self.log.debug("ltt terminals: close of %s failed", self.name, exc_info=True)

    @property
    def pid(self) -> int | None:
        proc = getattr(self.terminal, "ptyproc", None)
        return getattr(proc, "pid", None)

    def cwd(self) -> str | None:
        """The shell's current folder (Linux: /proc/<pid>/cwd), or None."""
        pid = self.pid
        if pid is None:
            return None
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return None


class TerminalTaps:
    """Taps on every terminal of a terminado ``NamedTermManager`` (jupyter_server_terminals')."""

    def __init__(self, on_output: OnOutput, on_closed: OnClosed, log: logging.Logger | None = None):
        self.on_output = on_output
        self.on_closed = on_closed
        self.log = log or logging.getLogger(__name__)
        self.taps: dict[str, TerminalTap] = {}
        self.manager: Any = None

    def install(self, manager: Any) -> bool:
        """Tap the manager's terminals, present and future (idempotent)."""
        if manager is None or self.manager is manager:
            return self.manager is not None
        if not hasattr(manager, "start_reading") or not hasattr(manager, "terminals"):
            self.log.warning(
                "ltt terminals: %s is not a terminado manager; terminals are not followed", manager
            )
            return False
        original = manager.start_reading

        def start_reading(ptywclients, *args, **kwargs):
            original(ptywclients, *args, **kwargs)
            self.attach(ptywclients)

        manager.start_reading = start_reading  # see the module docstring: the only creation hook
        self.manager = manager
        for term in list(manager.terminals.values()):
            self.attach(term)
        return True

    def attach(self, term: Any) -> None:
        name = getattr(term, "term_name", None)
        clients = getattr(term, "clients", None)
        if not name or clients is None or any(isinstance(c, TerminalTap) for c in clients):
            return
        tap = TerminalTap(str(name), term, self.on_output, self._closed, self.log)
        clients.append(tap)
        self.taps[tap.name] = tap

    def _closed(self, name: str) -> None:
        self.taps.pop(name, None)
        self.on_closed(name)

    def cwd(self, name: str) -> str | None:
        tap = self.taps.get(name)
        return tap.cwd() if tap is not None else None

    def running(self, name: str) -> bool:
        return name in self.taps
