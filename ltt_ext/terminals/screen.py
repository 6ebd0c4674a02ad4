"""What a terminal shows, as text lines: escape sequences, carriage returns, prompts, secrets.

Pure functions over the PTY's output (see :mod:`ltt_ext.terminals.monitor` for how they are fed).
"""

from __future__ import annotations

import re

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
PROMPT_PREFIX = re.compile(r"^(.{0,200}?[$#%❯»›>] )")
INCOMPLETE_ESCAPE = re.compile(r"\x1b(?:\][^\x07\x1b]*|\[[0-?]*[ -/]*|[()*+]?)?\Z")


def strip_ansi(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text)).replace("\x1b", "")


def render_line(line: str, partial: bool = False, wrapped: bool = False) -> str:
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
