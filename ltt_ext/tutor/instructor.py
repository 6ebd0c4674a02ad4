"""Instructor material (``TUTOR.md``): steering the tutor without leaking answers.

The file beside the notebook (or in the nearest parent folder) is split into
markdown sections. Sections whose heading names a solution/answer are kept
server-side only: they never reach a prompt, a browser or the store. The rest
(objectives, pitfalls, hints) steers the LLM, which is told never to quote it,
and :func:`redact_verbatim` removes any long line it copies anyway.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

SECRET_HEADING = re.compile(r"solution|\banswers?\b|l[öo]sung|corrig|soluci[óo]n", re.I)


@dataclass
class InstructorNotes:
    source_path: str
    guidance: str  # safe to put in a prompt (still never shown to the learner)
    secret: str  # never leaves the server

    @property
    def lines(self) -> list[str]:
        return [
            ln.strip() for ln in (self.guidance + "\n" + self.secret).splitlines() if len(ln.strip()) >= 24
        ]


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
    guidance: list[str] = []
    secret: list[str] = []
    target = guidance
    level_secret = None
    for line in text.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            level = len(m.group(1))
            if level_secret is not None and level <= level_secret:
                level_secret = None
            if level_secret is None and SECRET_HEADING.search(m.group(2)):
                level_secret = level
            target = secret if level_secret is not None else guidance
        target.append(line)
    # fenced blocks under a secret heading are covered by the section rule; also drop
    # <!-- private --> ... <!-- /private --> spans anywhere
    g = "\n".join(guidance)
    private = re.findall(r"<!--\s*private\s*-->.*?<!--\s*/private\s*-->", g, re.S)
    for p in private:
        g = g.replace(p, "")
    return InstructorNotes(source_path, g.strip(), ("\n".join(secret) + "\n" + "\n".join(private)).strip())


def redact_verbatim(text: str, notes: InstructorNotes | None) -> str:
    """Replace long lines copied word for word from the instructor's notes."""
    if not notes or not text:
        return text
    for line in notes.lines:
        core = line.lstrip("-*#> ").strip()
        if len(core) >= 24 and core in text:
            text = text.replace(core, "[…]")
    return text
