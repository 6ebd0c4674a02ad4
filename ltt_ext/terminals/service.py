"""The tutor in the learner's terminals: one conversation per terminal, hints on failed commands.

A terminal's conversation is keyed ``terminal:<name>`` (its messages' ``path`` too: that is what
the panel shows and asks for). Terminal names are the ones jupyter_server_terminals gives
(``1``, ``2``… or a name chosen at creation); a name used again later (after a server restart)
continues its conversation. The messages live in the tutor's store beside the notebooks'.

Output arrives from :class:`~ltt_ext.terminals.tap.TerminalTaps` on terminado's read path: it is
only queued there, then handled a moment later in one batch per terminal, at most
``MAX_BATCH`` characters per batch (a flood such as ``yes`` costs the tutor a few ms per tick and
only its last lines are read: the lines that end it, and the prompt, are what matter).

Hints are the built-in ladder of :mod:`ltt_ext.terminals.hints`, climbed per failure (same
failure again, or **More help**), at most one proactive hint per failure per
``Tutor.proactive_interval`` (the notebooks' gate). Terminal output never goes to an LLM.
Pure domain: no tornado.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..store import Message, StoreUnavailable
from ..tutor.conversations import Conversations, Subscriber
from . import hints
from .failures import Failure
from .monitor import Skipped, TerminalMonitor

if TYPE_CHECKING:
    from ..tutor.service import Tutor

PREFIX = "terminal:"
MAX_BATCH = 32_768  # characters of output read per batch: its first HEAD and last TAIL
HEAD = 8_192
TAIL = MAX_BATCH - HEAD
MAX_QUEUED = 262_144  # characters queued per terminal before the oldest are dropped
DELAY = 0.05  # seconds between reading a terminal's output and looking at it
_NAME = re.compile(r"^[\w.-]{1,64}$")


def conversation_key(name: str) -> str:
    return PREFIX + name


def terminal_of(key_or_path: str) -> str | None:
    return key_or_path[len(PREFIX) :] if key_or_path.startswith(PREFIX) else None


class _Pending:
    """A terminal's output not read yet: the start of it (the command line and its first lines,
    where most errors are), what matters in a skipped middle, and the end of it."""

    __slots__ = ("head", "chunks", "size", "scheduled", "dropped")

    def __init__(self) -> None:
        self.head: str | None = None  # set once the queue had to be cut
        self.chunks: list[str] = []
        self.size = 0
        self.scheduled = False
        self.dropped = Skipped()

    def cut(self) -> None:
        """Keep the first HEAD and the last TAIL characters; salvage the middle."""
        text = "".join(self.chunks)
        if self.head is None:
            self.head, text = text[:HEAD], text[HEAD:]
        self.dropped.add(text[:-TAIL])
        self.dropped.any = True
        self.chunks, self.size = [text[-TAIL:]], min(len(text), TAIL)


class TerminalTutor:
    def __init__(self, tutor: Tutor):
        self.tutor = tutor
        self.log = tutor.log
        self.conversations = Conversations(lambda: tutor.store, lambda key: key, tutor._emit, log=tutor.log)
        self.monitors: dict[str, TerminalMonitor] = {}
        self._pending: dict[str, _Pending] = {}
        # set by the server side (ltt_ext.app): the taps know the shells' pids and which terminals run
        self.cwd_of: Callable[[str], str | None] = lambda name: None
        self.running_names: Callable[[], Iterable[str]] = list
        self.hints_given = 0
        self._locks: dict[
            str, asyncio.Lock
        ] = {}  # one failure at a time per terminal: the ladder climbs in order

    # -- input from the taps (terminado's read path: O(1)) ----------------------------------------
    def feed(self, name: str, text: str) -> None:
        if not self.tutor.watch_terminals or self.tutor._stopping:
            return
        p = self._pending.get(name)
        if p is None:
            p = self._pending[name] = _Pending()
        p.chunks.append(text)
        p.size += len(text)
        if p.size > MAX_QUEUED:
            p.cut()
        if not p.scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            p.scheduled = True
            loop.call_later(DELAY, self._process, name)

    def closed(self, name: str) -> None:
        self._locks.pop(name, None)
        p = self._pending.pop(name, None)
        monitor = self.monitors.pop(name, None)
        if p is not None and monitor is not None and (p.chunks or p.head):
            self._handle(name, monitor, p)

    def _process(self, name: str) -> None:
        p = self._pending.get(name)
        if p is None:
            return
        p.scheduled = False
        monitor = self.monitors.get(name)
        if monitor is None:
            monitor = self.monitors[name] = TerminalMonitor(name, self.tutor.terminal_tail_lines)
        self._handle(name, monitor, p)

    def _handle(self, name: str, monitor: TerminalMonitor, p: _Pending) -> None:
        if p.size > MAX_BATCH:
            p.cut()
        head, dropped, text = p.head, p.dropped, "".join(p.chunks)
        p.head, p.dropped, p.chunks, p.size = None, Skipped(), [], 0
        try:
            failures = monitor.feed(head) if head else []
            if dropped:
                monitor.skip(dropped)
            failures += monitor.feed(text)
        except Exception:
            self.log.exception("ltt terminals: cannot read the output of terminal %s", name)
            return
        for failure in failures:
            self.conversations.background(self._failed(name, failure))

    # -- hints -------------------------------------------------------------------------------------
    async def _failed(self, name: str, failure: Failure) -> None:
        tutor = self.tutor
        if not tutor.proactive or tutor._stopping:
            return
        key = conversation_key(name)
        if not tutor.gate.allow(key, failure.signature, time.monotonic()):
            return
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                level = await tutor._next_level(key, failure.signature)
                await self._hint(name, failure, level)
        except StoreUnavailable as e:
            self.log.warning("ltt terminals: hint not stored: %s", e)
        except Exception:
            self.log.exception("ltt terminals: hint failed for terminal %s", name)

    async def _hint(self, name: str, failure: Failure, level: int, cwd: str | None = None) -> Message:
        key = conversation_key(name)
        around = await asyncio.get_running_loop().run_in_executor(
            None, hints.look_around, failure, cwd or self.cwd_of(name)
        )
        self.tutor.ladder.shown(key, failure.signature, level)
        msg = Message(
            key,
            "tutor",
            "hint",
            text=hints.hint(failure, level, around),
            level=level,
            engine="builtin",
            extra={
                "terminal": name,
                "failure": failure.to_json(),
                "signature": failure.signature,
                "cwd": around.cwd,
            },
            file_id=key,
        )
        self.hints_given += 1
        return await self.conversations.add(msg)

    # -- requests from the panel ---------------------------------------------------------------------
    @staticmethod
    def checked_name(name: Any) -> str:
        from ..tutor.service import TutorInputError

        if not isinstance(name, str) or not _NAME.match(name):
            raise TutorInputError("'terminal' must be a terminal name (letters, digits, '_', '-', '.')")
        return name

    async def _last_failure(self, name: str) -> tuple[Failure, str | None] | None:
        monitor = self.monitors.get(name)
        if monitor is not None and monitor.last_failure is not None:
            return monitor.last_failure, None
        hint = await self.tutor.store.latest(conversation_key(name), kind="hint")
        if hint is None or not isinstance(hint.extra.get("failure"), dict):
            return None
        return Failure.from_json(hint.extra["failure"]), hint.extra.get("cwd")

    async def more(self, name: Any, user: str = "anonymous") -> tuple[Message, Message]:
        name = self.checked_name(name)
        key = conversation_key(name)
        question = await self.conversations.add(
            Message(key, "learner", "more", text="More help, please.", user=user, file_id=key)
        )
        last = await self._last_failure(name)
        if last is None:
            return question, await self._say(
                name,
                "There's no failed command to help with here yet. Run your command, or ask me a question.",
            )
        failure, cwd = last
        level = await self.tutor._next_level(key, failure.signature)
        return question, await self._hint(name, failure, level, cwd)

    async def ask(self, name: Any, text: Any, user: str = "anonymous") -> tuple[Message, Message]:
        from ..tutor.service import TutorInputError

        name = self.checked_name(name)
        if not isinstance(text, str) or not text.strip():
            raise TutorInputError("'text' must be a non-empty string")
        if len(text) > 20_000:
            raise TutorInputError("'text' is too long (max 20000 characters)")
        key = conversation_key(name)
        question = await self.conversations.add(
            Message(key, "learner", "question", text=text, user=user, file_id=key)
        )
        last = await self._last_failure(name)
        if last is None:
            return question, await self._say(
                name,
                "In a terminal I help with failed commands: when a command fails here (not found, permission "
                "denied, a missing file, a Python traceback, a non-zero exit status), I leave a hint by myself, "
                "and **More help** takes the next step. For questions about your code, ask in the notebook's "
                "conversation.",
            )
        failure, cwd = last
        level = self.tutor.ladder.shown_level(key, failure.signature) or 1
        return question, await self._hint(name, failure, level, cwd)

    async def _say(self, name: str, text: str) -> Message:
        key = conversation_key(name)
        return await self.conversations.add(
            Message(key, "tutor", "notice", text=text, engine="builtin", file_id=key)
        )

    async def history(self, name: Any, since: float | None = None) -> list[dict]:
        return await self.conversations.history(conversation_key(self.checked_name(name)), since)

    def subscribe(self, name: str, callback: Subscriber):
        return self.conversations.subscribe(conversation_key(name), callback)

    def status(self, name: str) -> dict:
        running = name in set(self.running_names())
        return {
            "type": "status",
            "kernel_state": None,
            "thinking": False,
            "terminal": "running" if running else "closed",
        }

    def tail(self, name: str, lines: int = 40) -> str:
        """The last lines of a terminal as the tutor keeps them (secrets never in it)."""
        monitor = self.monitors.get(name)
        return monitor.tail_text(lines) if monitor is not None else ""

    async def drain(self, timeout: float = 5.0) -> None:
        """Handle queued output now (tests)."""
        for name in list(self._pending):
            self._process(name)
        deadline = time.monotonic() + timeout
        while self.conversations._background and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._pending.clear()
        await self.conversations.stop()
