"""A finished command's output (a :class:`Block`) and the failure :func:`detect` finds in it:
``command not found``, ``Permission denied``, ``No such file or directory``, a non-zero exit the
prompt shows, a Python traceback run from the shell."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import asdict, dataclass, field

from .screen import BLOCK_LINES


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
            "found" in line or "denied" in line or "o such" in line or "Unknown" in line
        ) and FAILURE_LINE.match(line):
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
_LIBRARY = re.compile(r"/lib/python[\d.]*/|site-packages|dist-packages|^<frozen ")
# A program's own message: "prog: [context: ]target: <marker>", "[Errno 2] <marker>", or the marker
# opening the line (ssh, sudo); never the marker inside a sentence ("Fix 'No such file…'" in a commit).
_MARKED = {
    m: re.compile(r"(?:^|: |\] )" + re.escape(m) + r"(?:$|[\s.,;(])")
    for m in ("Permission denied", "No such file or directory")
}
# zsh words it the other way round: "zsh: permission denied: ./run.sh", "cd: no such file or directory: /x"
_ZSH = re.compile(
    r"^(?:zsh: )?(?:(?P<program>[\w.-]+): )?(?P<what>permission denied|no such file or directory): (?P<target>.+)$"
)
_NOT_A_DIRECTORY = re.compile(r"^(?:zsh: )?(?P<program>[\w.-]+): not a directory: (?P<target>.+)$")  # zsh
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
    own = [f for f in frames if not _LIBRARY.search(f.group("file"))]
    frame = (own or frames)[-1] if frames else None  # the learner's line, not the library's
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
        if "Permission denied" in line and _MARKED["Permission denied"].search(line):
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
        if "No such file or directory" in line and _MARKED["No such file or directory"].search(line):
            if line.startswith("No such file or directory"):
                continue  # the bare words (an `echo`, a quote): nobody and nothing named
            program, context, target = _target_and_program(line, "No such file or directory")
            if not target and program and ": " not in line[: line.find("No such file")].rstrip(": "):
                # "notes.md: No such file or directory" (less, some tools): the one name is the path
                program, target = _first_word(command), program
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
    for line in reversed(lines):
        z = _NOT_A_DIRECTORY.match(line)
        if z is not None or line.endswith(": Not a directory"):
            if z is not None:
                program, target = z.group("program"), z.group("target").strip()
            else:
                program, _, target = _target_and_program(line, "Not a directory")
                program = "cd" if line.split(": ")[1:2] == ["cd"] else program
            if program in _SHELLS or program == "zsh":
                program = _first_word(command)
            return Failure(
                "no-such-file", command, line, program=program, target=target, action="not-a-directory",
                exit_status=block.exit_status,
            )  # fmt: skip
        z = _ZSH.match(line)
        if z is not None:
            program = z.group("program") or _first_word(command)
            target = z.group("target").strip()
            if z.group("what") == "permission denied":
                action = "run" if target == _first_word(command) or program == "zsh" else "read"
                if program == "zsh":
                    program = _first_word(command)
                return Failure(
                    "permission", command, line, program=program, target=target, action=action,
                    exit_status=block.exit_status,
                )  # fmt: skip
            return Failure(
                "no-such-file", command, line, program=program if program != "zsh" else _first_word(command),
                target=target, exit_status=block.exit_status,
            )  # fmt: skip
    if block.exit_status:
        last = next((line for line in reversed(lines) if line.strip()), "")
        return Failure("exit", command, last, program=_first_word(command), exit_status=block.exit_status)
    return None


# Lines worth finding in output the tutor skipped (a flood).
FAILURE_LINE = re.compile(
    r"[^\r\n]*(?:command not found|[Pp]ermission denied|[Nn]o such file or directory|: not found|Unknown command)[^\r\n]*"
)
