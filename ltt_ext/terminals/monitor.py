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
from dataclasses import asdict, dataclass, field

MAX_LINE = 500  # characters kept of a line
TAIL_LINES = 200
BLOCK_LINES = 200  # lines of one command's output kept for detection (the last ones)
HIDDEN = "[input hidden]"

# -- escape sequences ------------------------------------------------------------------------------
_OSC = r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # window titles, shell integration marks
_CSI = r"\x1b\[[0-?]*[ -/]*[@-~]"  # colours, cursor moves, bracketed paste
_ESC = r"\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\^_=>78]"  # charsets, keypad modes, save/restore
_ANSI = re.compile(f"{_OSC}|{_CSI}|{_ESC}")
_CONTROL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c\x1d\x1f\x7f]")  # keeps \b \t \n \r, ESC, MARK
# bash >= 5.1 (readline) turns bracketed paste on right before it shows each prompt: a prompt boundary
# that holds even when the prompt and the command typed ahead arrive in one read. Kept as MARK.
PASTE_ON = "\x1b[?2004h"
MARK = "\x1e"
_PROMPT_PREFIX = re.compile(r"^(.{0,200}?[$#%❯»›>] )")
_INCOMPLETE = re.compile(r"\x1b(?:\][^\x07\x1b]*|\[[0-?]*[ -/]*|[()*+]?)?\Z")


def strip_ansi(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text)).replace("\x1b", "")


def _render(line: str, partial: bool = False, wrapped: bool = False) -> str:
    """A line as the terminal shows it: ``\\r`` returns to the start (later text overwrites),
    ``\\b`` steps back one character. ``wrapped``: a line typed at a prompt, where readline
    wraps at the terminal's width with a space and ``\\r`` (the text goes on, on the next row)."""
    line = line.rstrip("\r")
    if wrapped:
        line = line.replace(" \r", "")
    if "\r" in line:
        parts = line.split("\r")
        shown = ""
        for part in parts:
            shown = part + shown[len(part) :]
        line = shown
    if "\b" in line:
        out: list[str] = []
        for ch in line:
            if ch == "\b":
                if out:
                    out.pop()
            else:
                out.append(ch)
        line = "".join(out)
    line = line.replace("\t", "    ")
    return line if partial else line.rstrip()  # a prompt waiting keeps its trailing space


# -- prompts ---------------------------------------------------------------------------------------
_SECRET_PROMPT = re.compile(
    r"(?i)^(?P<prompt>.{0,160}?(?:password|passphrase|pass phrase|passcode|\bpin\b|secret|token|"
    r"verification code|one-time code)[^:\n]{0,100}:)"
)
_SHELL_PROMPT = re.compile(r"[$#%❯»›>]$")
_EXIT_IN_PROMPT = [
    re.compile(r"\[(?:exit[: ]?|rc[:=]?|\?[:=]?)?(\d{1,3})\]"),
    re.compile(r"\((?:exit[: ]?|rc[:=]?)?(\d{1,3})\)"),
    re.compile(r"[✘✗×]\s*(\d{1,3})"),
    re.compile(r"(\d{1,3})\s*[✘✗]"),
    re.compile(r"\b(?:exit|rc|status)[:=]\s*(\d{1,3})\b", re.I),
]


def secret_prompt(line: str) -> str | None:
    """The prompt part of a line asking for a secret, or None."""
    m = _SECRET_PROMPT.match(line.strip())
    return m.group("prompt") if m else None


def is_shell_prompt(line: str) -> bool:
    """A line left waiting that ends like a prompt: ``… $ ``, ``… # ``, ``… % ``, ``❯ ``, ``>>> ``
    (the space matters: ``50%`` of a progress bar is no prompt; ``> `` alone is a continuation)."""
    text = line.rstrip()
    if not text or len(line) > 200 or not line.endswith(" ") or text in (">", "...", "?"):
        return False
    if secret_prompt(text) is not None:
        return False
    return bool(_SHELL_PROMPT.search(text))


_SECRET_ARGS = [
    re.compile(r"(?i)(--?(?:password|passwd|pass|token|secret|api[-_]?key)[= ])\S+"),
    re.compile(r"(?i)\b(\w*(?:PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY)\w*=)\S+"),
    re.compile(r"(\bmysql\b.*?\s-p)(?=\S)\S+"),
]


def redact(line: str) -> str:
    """A command line without what is obviously a secret on it (``--password=…``, ``TOKEN=…``)."""
    for pattern in _SECRET_ARGS:
        line = pattern.sub(lambda m: m.group(1) + "[hidden]", line)
    return line


def prompt_exit_status(prompt: str) -> int | None:
    for pattern in _EXIT_IN_PROMPT:
        m = pattern.search(prompt)
        if m:
            return int(m.group(1))
    return None


# -- blocks and failures ---------------------------------------------------------------------------
@dataclass
class Block:
    """One command and its output, up to the next prompt."""

    command: str
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=BLOCK_LINES))
    # lines that name a failure, kept even when a long output pushes them out of ``lines``
    notable: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    exit_status: int | None = None

    def add(self, line: str) -> None:
        self.lines.append(line)
        if (
            "found" in line or "denied" in line or "No such" in line or "Unknown" in line
        ) and _FAILURE_LINE.match(line):
            self.notable.append(line)

    truncated: bool = False


@dataclass
class Failure:
    kind: str  # not-found | permission | no-such-file | python | exit
    command: str  # the command line as typed (may be "")
    line: str  # the output line that says it
    program: str = ""  # who complained: "bash", "cat", "python3"
    target: str = ""  # the missing command, the file, the directory
    action: str = ""  # permission: run | read | write | enter | login
    exit_status: int | None = None
    ename: str = ""  # python
    evalue: str = ""
    file: str = ""
    lineno: int | None = None

    @property
    def signature(self) -> str:
        return f"{self.kind}\0{self.program}\0{self.target}\0{self.ename}\0{self.command.split(' ')[0] if self.command else ''}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Failure:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


_NOT_FOUND = [
    re.compile(r"^(?:[-\w./]+: )?(?:line \d+: )?(?P<cmd>[^:\s][^:]*): command not found$"),
    re.compile(r"^zsh: command not found: (?P<cmd>.+)$"),
    re.compile(r"^(?:/bin/|/usr/bin/)?(?:sh|dash): \d+: (?P<cmd>[^:]+): not found$"),
    re.compile(r"^fish: Unknown command:? '?(?P<cmd>[^'\s]+)'?"),
    re.compile(r"^Command '(?P<cmd>[^']+)' not found"),
]
_QUOTED = re.compile(r"(?:^|(?<=[\s:]))[‘'\"`](?P<q>[^’'\"`]+)[’'\"`]")  # not the ' of "can't"
_TRACEBACK = "Traceback (most recent call last):"
_PY_FILE = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_PY_ERROR = re.compile(
    r"^(?P<ename>[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning|Iteration))(?:: (?P<evalue>.*))?$"
)
_SHELLS = {"bash", "-bash", "sh", "-sh", "zsh", "-zsh", "dash", "fish", "ksh"}
_WRITERS = {
    "mkdir",
    "touch",
    "cp",
    "mv",
    "rm",
    "rmdir",
    "tee",
    "ln",
    "chmod",
    "chown",
    "install",
    "dd",
    "truncate",
}


def _target_and_program(line: str, marker: str) -> tuple[str, str, str]:
    """(program, context, target) of ``prog: [ctx: ] target: <marker>``, quoted names preferred."""
    head = line[: line.find(marker)].rstrip(": ").strip()
    parts = [p.strip() for p in head.split(": ")]
    program = parts[0] if parts else ""
    quoted = [m.group("q") for m in _QUOTED.finditer(head)]
    if quoted:
        target = quoted[-1]
    else:
        target = parts[-1] if len(parts) > 1 else ""
    context = parts[1] if len(parts) > 2 else ""
    return program.split("/")[-1], context, target


def _first_word(command: str) -> str:
    words = command.strip().split()
    while words and ("=" in words[0] and not words[0].startswith(("=", "./", "/"))):
        words = words[1:]  # VAR=value cmd
    if words and words[0] in ("sudo", "time", "nohup", "exec", "command"):
        words = words[1:]
    return words[0] if words else ""


def _redirects_to(command: str, target: str) -> bool:
    return bool(target) and bool(re.search(r">>?\s*" + re.escape(target) + r"(?:\s|$)", command))


def _python_failure(lines: list[str], command: str) -> Failure | None:
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip() == _TRACEBACK:
            start = i
            break
    tail = lines[start:] if start is not None else lines
    error = None
    for i in range(len(tail) - 1, -1, -1):
        m = _PY_ERROR.match(tail[i])
        if m is not None:
            error = (i, m)
            break
    if error is None:
        return None
    idx, m = error
    frames = [f for f in (_PY_FILE.match(line) for line in tail[:idx]) if f is not None]
    if start is None:
        # no "Traceback" header: only a SyntaxError of the file python was given has that shape
        if not frames or m.group("ename") not in ("SyntaxError", "IndentationError", "TabError"):
            return None
    frame = frames[-1] if frames else None
    ename = m.group("ename").split(".")[-1]
    return Failure(
        "python",
        command,
        tail[idx],
        program=_first_word(command) or "python",
        target=frame.group("file") if frame else "",
        ename=ename,
        evalue=(m.group("evalue") or "")[:300],
        file=frame.group("file") if frame else "",
        lineno=int(frame.group("line")) if frame else None,
    )


def detect(block: Block) -> Failure | None:
    """The failure a command block shows, if any (the most telling one)."""
    lines = list(block.lines)
    if block.notable and block.notable[-1] not in lines:
        lines = [line for line in block.notable if line not in lines] + lines
    command = block.command
    python = _python_failure(lines, command)
    if python is not None:
        python.exit_status = block.exit_status
        return python
    for line in reversed(lines):
        for pattern in _NOT_FOUND:
            m = pattern.match(line)
            if m:
                cmd = m.group("cmd").strip()
                return Failure(
                    "not-found",
                    command,
                    line,
                    program=_first_word(command),
                    target=cmd,
                    exit_status=block.exit_status,
                )
    for line in reversed(lines):
        if "Permission denied" in line:
            program, context, target = _target_and_program(line, "Permission denied")
            first = _first_word(command)
            if "(publickey" in line or line.startswith("Permission denied, please try again"):
                action, program = "login", first or "ssh"
            elif context == "cd" or first == "cd":
                action = "enter"
            elif (
                _redirects_to(command, target)
                or program in _WRITERS
                or re.search(r"cannot (create|touch|remove|move|overwrite|make)|for writing", line)
            ):
                action = "write"
            elif (
                program in _SHELLS
                and target
                and (target == first or first.endswith(target) or target.endswith(first))
            ):
                action = "run"
            else:
                action = "read"
            if program in _SHELLS and action != "run" and first:
                program = first
            return Failure(
                "permission",
                command,
                line,
                program=program,
                target=target,
                action=action,
                exit_status=block.exit_status,
            )
    for line in reversed(lines):
        if "No such file or directory" in line:
            program, context, target = _target_and_program(line, "No such file or directory")
            first = _first_word(command)
            interpreter = re.search(r": (?P<i>/\S+): bad interpreter", line)
            if interpreter:
                return Failure(
                    "no-such-file",
                    command,
                    line,
                    program=first,
                    target=interpreter.group("i"),
                    action="interpreter",
                    exit_status=block.exit_status,
                )
            if context == "cd":
                program = "cd"
            elif program in _SHELLS and first:
                program = first
            return Failure(
                "no-such-file", command, line, program=program, target=target, exit_status=block.exit_status
            )
    if block.exit_status:
        last = next((line for line in reversed(lines) if line.strip()), "")
        return Failure("exit", command, last, program=_first_word(command), exit_status=block.exit_status)
    return None


_FAILURE_LINE = re.compile(
    r"[^\r\n]*(?:command not found|Permission denied|No such file or directory|: not found|Unknown command)[^\r\n]*"
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
        found = [_render(strip_ansi(line)) for line in _FAILURE_LINE.findall(text)[-20:]]
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
        return "" if self.secret else _render(self._partial)

    def feed(self, chunk: str) -> list[Failure]:
        """Take a chunk of PTY output; the failures of the commands it finished."""
        text = self._carry + chunk
        self._carry = ""
        cut = _INCOMPLETE.search(text[-256:])
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
            failure = self._line(_render(raw, wrapped=self._awaiting and not self.secret))
            if failure is not None:
                found.append(failure)
        shown = _render(self._partial, partial=True).rpartition(MARK)[2]
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
            m = _PROMPT_PREFIX.match(after)
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
