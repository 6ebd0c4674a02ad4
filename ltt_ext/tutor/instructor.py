"""Instructor material (``TUTOR.md``): steering the tutor without leaking answers.

The file beside the notebook (or in the nearest parent folder) is CommonMark, parsed with
markdown-it-py (never line regexes):

- a section whose heading names a solution or an answer (:data:`SECRET_HEADING`: Solution, Answer(s),
  Lösung, Antwort, Corrigé, Réponse, Solución, Respuesta, Spoiler…), ATX (``## Solution ##``) or setext (``Solution`` underlined with ``===``
  or ``---``), is secret from its heading to the next heading of the same or a higher level (nested
  headings stay inside it); a ``#`` line inside a fenced or indented code block is code, not a heading;
- a secret heading inside a block quote or a list item makes that whole top-level block secret;
- two safety nets, both only ever hiding more: an ATX heading naming a solution inside a fence that is
  never closed (which CommonMark runs to the end of the file) still opens a secret section, and so does
  ``Solution`` underlined with ``---`` right after a list item (for CommonMark a lazy continuation line
  and a thematic break);
- ``<!-- private --> … <!-- /private -->`` spans are secret wherever they are, as HTML blocks or inline
  (an unclosed one runs to the end of the file), and so are ``<details>`` blocks whose ``<summary>``
  names a solution, up to their matching ``</details>``; these markers are ignored inside code blocks.

Secret parts never leave the server: they never reach a prompt, a browser or the store. The rest, the
*guidance* (objectives, pitfalls, hints: the original Markdown of the non-secret parts), steers the LLM,
which is told never to quote it; :class:`~ltt_ext.tutor.copyguard.CopyGuard` removes any notes line it
copies anyway before it is streamed.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from .copyguard import CopyGuard, notes_lines

__all__ = ["SECRET_HEADING", "CopyGuard", "InstructorNotes", "candidate_paths", "parse", "read_private"]

SECRET_HEADING = re.compile(
    r"solution|\banswers?\b|l(?:ö|o|oe)sung|corrig|soluci[óo]n|r[ée]ponses?\b|respuestas?\b|antwort|spoiler",
    re.I,
)
PRIVATE_OPEN = re.compile(r"<!--\s*private\s*-->", re.I)
PRIVATE_CLOSE = re.compile(r"<!--\s*/\s*private\s*-->", re.I)
DETAILS = re.compile(
    r"<details\b[^>]*>\s*<summary\b[^>]*>(.*?)</summary\s*>|<(/?)details\b[^>]*>", re.I | re.S
)

_markdown = MarkdownIt("commonmark")


@dataclass
class InstructorNotes:
    source_path: str
    guidance: str  # safe to put in a prompt (still never shown to the learner)
    secret: str  # never leaves the server

    @property
    def lines(self) -> list[str]:
        """Every notes line, guidance and secret, long enough to be guarded against copying
        (see :mod:`ltt_ext.tutor.copyguard` for the minimum and why)."""
        return notes_lines(self.guidance, self.secret)


def candidate_paths(notebook_path: str, filename: str) -> list[str]:
    """``a/b/nb.ipynb`` -> ``a/b/nb.tutor.md`` (this notebook only), ``a/b/TUTOR.md``, ``a/TUTOR.md``, ``TUTOR.md``."""
    stem = posixpath.splitext(notebook_path)[0]
    out = [f"{stem}.tutor.md"]
    d = posixpath.dirname(notebook_path)
    while True:
        out.append(posixpath.join(d, filename) if d else filename)
        if not d:
            return out
        d = posixpath.dirname(d)


def read_private(root: str, relative: str, max_bytes: int = 200_000) -> str | None:
    """A notes file under ``root`` (outside the server root); never follows ``..`` out of it."""
    base = os.path.realpath(os.path.expanduser(root))
    target = os.path.realpath(os.path.join(base, *relative.split("/")))
    if os.path.commonpath([base, target]) != base or not os.path.isfile(target):
        return None
    try:
        with open(target, encoding="utf-8", errors="replace") as f:
            return f.read(max_bytes)
    except OSError:
        return None


def parse(source_path: str, text: str) -> InstructorNotes:
    """Split notes into guidance and secret (see the module's docstring for the rules)."""
    # markdown-it normalises line ends and NULs before parsing; do the same so token maps match
    src = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    starts = [0]
    for m in re.finditer("\n", src):
        starts.append(m.end())
    if starts[-1] != len(src):
        starts.append(len(src))
    n_lines = len(starts) - 1

    def span(first: int, last: int) -> tuple[int, int]:  # lines [first, last) -> characters
        return starts[min(first, n_lines)], starts[min(last, n_lines)]

    secret = bytearray(len(src))

    def hide(a: int, b: int) -> None:
        if b > a:
            secret[a:b] = b"\x01" * (b - a)

    tokens = _markdown.parse(src)
    lines = src.split("\n")
    code: list[tuple[int, int]] = []
    headings: list[tuple[int, int, str]] = []  # (first line, level, title) of top-level headings
    top: list[int] | None = None  # line range of the current top-level block
    for i, tok in enumerate(tokens):
        if tok.map is None:
            continue
        if tok.level == 0:
            top = tok.map
        if tok.type in ("fence", "code_block"):
            code.append(span(*tok.map))
            if tok.type == "fence" and not _closed(tok.markup, lines[tok.map[0] + 1 : tok.map[1]]):
                headings.extend(_headings_in_unclosed_fence(lines, tok.map))
        elif tok.type == "hr" and tok.level == 0:
            headings.extend(_lazy_setext(lines, tok.map[0]))
        elif tok.type == "heading_open":
            title = tokens[i + 1].content if i + 1 < len(tokens) else ""
            if tok.level == 0:
                headings.append((tok.map[0], int(tok.tag[1:]), title))
            elif SECRET_HEADING.search(title) and top is not None:
                hide(*span(*top))  # in a block quote or a list item: hide the whole block

    section: tuple[int, int] | None = None  # (level, first line) of the open secret section
    for line, level, title in sorted(headings):
        if section is not None and level <= section[0]:
            hide(*span(section[1], line))
            section = None
        if section is None and SECRET_HEADING.search(title):
            section = (level, line)
    if section is not None:
        hide(*span(section[1], n_lines))

    def in_code(pos: int) -> bool:
        return any(a <= pos < b for a, b in code)

    at = 0
    while True:
        opening = next((m for m in PRIVATE_OPEN.finditer(src, at) if not in_code(m.start())), None)
        if opening is None:
            break
        closing = next(
            (m for m in PRIVATE_CLOSE.finditer(src, opening.end()) if not in_code(m.start())), None
        )
        end = closing.end() if closing is not None else len(src)
        hide(opening.start(), end)
        at = end

    depth, start = 0, 0  # <details><summary>Solution</summary> … </details>, nested ones included
    for m in DETAILS.finditer(src):
        if in_code(m.start()):
            continue
        if m.group(2) == "/":
            if depth:
                depth -= 1
                if not depth:
                    hide(start, m.end())
        elif depth or (m.group(1) is not None and SECRET_HEADING.search(m.group(1))):
            if not depth:
                start = m.start()
            depth += 1
    if depth:
        hide(start, len(src))

    guidance: list[str] = []
    hidden: list[str] = []
    at = 0
    for run in re.finditer(b"\x01+", bytes(secret)):
        guidance.append(src[at : run.start()])
        hidden.append(src[run.start() : run.end()].strip("\n"))
        at = run.end()
    guidance.append(src[at:])
    return InstructorNotes(source_path, _tidy("".join(guidance)), "\n".join(h for h in hidden if h.strip()))


_ATX = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


def _closed(markup: str, body: list[str]) -> bool:
    """Whether a fence's last line closes it (markdown-it runs an unclosed fence to the end)."""
    last = body[-1].strip() if body else ""
    return len(last) >= len(markup) and set(last) == {markup[0]}


def _headings_in_unclosed_fence(lines: list[str], span: list[int]) -> list[tuple[int, int, str]]:
    """A fence never closed swallows the rest of the file: an ATX heading naming a solution in it
    still opens a secret section (a forgotten closing fence must not publish the solution)."""
    found = []
    for n in range(span[0] + 1, span[1]):
        m = _ATX.match(lines[n])
        if m and SECRET_HEADING.search(m.group(2)):
            found.append((n, len(m.group(1)), m.group(2)))
    return found


def _lazy_setext(lines: list[str], hr_line: int) -> list[tuple[int, int, str]]:
    """``Solution`` underlined with ``---`` right after a list or quote is, for CommonMark, a lazy
    continuation line and a thematic break; it reads as a heading, so it is treated as one when it
    names a solution."""
    if hr_line == 0 or set(lines[hr_line].strip()) != {"-"}:
        return []
    above = lines[hr_line - 1].strip().lstrip(">").strip()
    return [(hr_line - 1, 2, above)] if above and SECRET_HEADING.search(above) else []


def _tidy(markdown: str) -> str:
    """Drop the blank lines left where secret parts were cut out."""
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", markdown).strip()


def redact_verbatim(text: str, notes: InstructorNotes | None) -> str:
    """Replace notes lines copied word for word (the whole text at once; see :class:`CopyGuard`)."""
    if not notes or not text:
        return text
    guard = CopyGuard(notes)
    return guard.feed(text) + guard.finish()
