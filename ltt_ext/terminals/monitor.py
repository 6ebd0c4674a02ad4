"""A terminal's output as lines and command blocks, and the failed commands in them. Pure Python.

:class:`TerminalMonitor` is fed the PTY output as terminado reads it (text chunks of any size,
split anywhere — even inside an escape sequence). It strips ANSI/OSC sequences and control
characters, applies carriage returns and backspaces as a terminal would, and keeps a bounded
tail of the lines. A *prompt* is a line left waiting without a newline that ends like a shell
prompt (``$``, ``#``, ``%``, ``>``, ``❯``); the line that starts with it is the command, and
what comes until the next prompt is that command's output: a :class:`Block`, checked by
:func:`detect` for a failure when the next prompt shows.

**Secrets.** A line that looks like a password prompt (``[sudo] password for …:``,
``Password:``, ``Enter passphrase for key …:``, PIN, token…) switches the monitor to *secret*
mode: whatever follows on that line is replaced by ``[input hidden]`` and every line until
the next shell prompt is dropped — not kept in the tail, not checked, not logged. The monitor
never sees the keys typed (that is stdin; terminado sends it to the PTY, not to us), only
their echo, which a password prompt turns off anyway.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .failures import FAILURE_LINE, Block, Failure, detect
from .screen import (
    BLOCK_LINES,
    HIDDEN,
    INCOMPLETE_ESCAPE,
    MARK,
    MAX_LINE,
    PASTE_ON,
    PROMPT_PREFIX,
    TAIL_LINES,
    is_shell_prompt,
    prompt_exit_status,
    redact,
    render_line,
    secret_prompt,
    strip_ansi,
)

_SECRET_ANYWHERE = re.compile(
    r"(?i)(?:password|passphrase|pass phrase|passcode|\bpin\b|secret|token|verification code|one-time code)"
    r"[^:\n]{0,100}:"
)


@dataclass
class Skipped:
    """What matters in output the tutor skipped (a flood), found at C speed: failure lines, and
    whether a password prompt went by (then nothing after it is kept)."""

    lines: list[str] = field(default_factory=list)
    secret: bool = False

    def add(self, text: str) -> None:
        if self.secret:
            return
        m = _SECRET_ANYWHERE.search(text)
        if m is not None:
            text = text[: m.start()]
        found = [render_line(strip_ansi(line)) for line in FAILURE_LINE.findall(text)[-20:]]
        self.lines = (self.lines + [line[:MAX_LINE] for line in found if line])[-20:]
        if m is not None:
            self.secret = True

    def __bool__(self) -> bool:
        return bool(self.lines) or self.secret or self.any

    any: bool = False  # something was skipped at all


class TerminalMonitor:
    """One terminal's output: feed chunks, get the failures of finished commands."""

    def __init__(self, name: str, tail_lines: int = TAIL_LINES):
        self.name = name
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self.secret = False
        self.prompt: str | None = None  # the last shell prompt seen
        self.block: Block | None = None  # the command running now
        self._awaiting = False  # a prompt showed: the next line is the command typed at it
        self.last_failure: Failure | None = None
        self.failures = 0
        self._carry = ""  # an escape sequence split by the read
        self._partial = ""  # the line being written (no newline yet)

    @property
    def partial(self) -> str:
        return "" if self.secret else render_line(self._partial)

    def feed(self, chunk: str) -> list[Failure]:
        """Take a chunk of PTY output; the failures of the commands it finished."""
        text = self._carry + chunk
        self._carry = ""
        cut = INCOMPLETE_ESCAPE.search(text[-256:])
        if cut is not None:
            keep = len(text) - (len(text[-256:]) - cut.start())
            text, self._carry = text[:keep], text[keep:]
        text = strip_ansi(text.replace(MARK, "").replace(PASTE_ON, MARK))
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        if len(self._partial) > 4 * MAX_LINE:  # a line with no end (a progress bar): keep its end
            self._partial = self._partial[-2 * MAX_LINE :]
        found: list[Failure] = []
        for raw in pieces:
            failure = self._line(render_line(raw, wrapped=self._awaiting and not self.secret))
            if failure is not None:
                found.append(failure)
        before, mark, shown = render_line(self._partial, partial=True).rpartition(MARK)
        if mark and not shown.strip():  # zsh turns bracketed paste on *after* drawing its prompt
            shown = before.rpartition(MARK)[2]
        if shown and secret_prompt(shown) is not None:
            self.secret = True  # a password prompt is waiting: what is typed next is not ours
        elif shown and is_shell_prompt(shown) and not self._typing(shown):
            failure = self._at_prompt(shown)
            if failure is not None:
                found.append(failure)
        return found

    def skip(self, skipped: Skipped) -> None:
        """Output the tutor did not read (a flood): the line in progress is lost; the failure lines
        found in it still count, and a password prompt in it still turns secrecy on."""
        self._carry, self._partial, self._awaiting = "", "", False
        self._record("…")
        if not self.secret:
            for line in skipped.lines:
                self._record(line)
                if self.block is not None:
                    self.block.add(line)
            if self.block is not None:
                self.block.truncated = True
        if skipped.secret:
            self.secret = True

    def _typing(self, shown: str) -> bool:
        """The learner is typing at the prompt (``echo a > `` ends like a prompt, but is not one)."""
        return (
            self._awaiting
            and self.prompt is not None
            and shown != self.prompt
            and shown.startswith(self.prompt)
        )

    def _line(self, line: str) -> Failure | None:
        if MARK in line:
            before, _, after = line.rpartition(MARK)
            before = before.replace(MARK, "")
            m = PROMPT_PREFIX.match(after)
            # a shell prompt readline drew (ends secrecy: sudo's and read's prompts never draw one)
            if m is not None and is_shell_prompt(m.group(1)) and secret_prompt(after) is None:
                if before.strip():
                    self._line(before)
                prompt = m.group(1)
                finished = self._at_prompt(prompt)  # a prompt and the command typed at it, in one line
                self._awaiting = False
                self._command_line(after)
                return finished
            line = before + after
        line = line[:MAX_LINE]
        prompt = secret_prompt(line)
        if prompt is not None:  # the prompt itself (or another try), never what follows it
            self.secret = True
            self._record(f"{prompt} {HIDDEN}")
            return None
        if self.secret:
            return None  # dropped until the next shell prompt
        awaiting, self._awaiting = self._awaiting, False
        if self.prompt is not None and line.startswith(self.prompt.rstrip()):
            if awaiting:
                return self._command_line(line)
            if len(self.prompt.strip()) >= 4:
                # typed ahead: the prompt and the command came in one read, never left waiting
                finished = self._finish(None)
                self._command_line(line)
                return finished
        self._record(line)
        if self.block is not None:
            self.block.add(line)
        elif self.prompt is None:
            # no prompt recognised (yet): judge line by line, so a plain shell still gets hints
            return self._judge(Block("", deque([line], maxlen=BLOCK_LINES)), single=True)
        return None

    def _command_line(self, line: str) -> Failure | None:
        assert self.prompt is not None
        line = redact(line)
        self._record(line)
        command = line[len(self.prompt.rstrip()) :].strip()
        self.block = Block(command) if command else None
        return None

    def _at_prompt(self, prompt: str) -> Failure | None:
        self.secret = False
        self._awaiting = True
        if prompt == self.prompt and self.block is None:
            return None  # the same prompt again (a redraw, an empty line)
        failure = self._finish(prompt_exit_status(prompt))
        self.prompt = prompt
        return failure

    def _finish(self, exit_status: int | None) -> Failure | None:
        block, self.block = self.block, None
        if block is None:
            return None
        block.exit_status = exit_status
        return self._judge(block)

    def _judge(self, block: Block, single: bool = False) -> Failure | None:
        failure = detect(block)
        if failure is None or (single and failure.kind in ("exit", "python")):
            return None
        self.last_failure = failure
        self.failures += 1
        return failure

    def _record(self, line: str) -> None:
        self.tail.append(line)

    def tail_text(self, lines: int = 40) -> str:
        return "\n".join(list(self.tail)[-lines:])


def feed_all(monitor: TerminalMonitor, chunks: Iterable[str]) -> list[Failure]:
    """Feed several chunks (tests)."""
    out: list[Failure] = []
    for chunk in chunks:
        out.extend(monitor.feed(chunk))
    return out
