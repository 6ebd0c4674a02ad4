"""Streaming copy guard: no line of the instructor's notes reaches the learner word for word.

The LLM sees the notes' guidance (never their secret sections) and is told never to quote it; this
guard makes sure of it. It sits between the LLM stream and every consumer (websocket deltas, the
stored answer)::

    guard = CopyGuard(notes)
    for delta in stream:
        emit(guard.feed(delta))  # only what can no longer become part of a copied line
    emit(guard.finish())
    store(guard.text)

**What counts as a copy.** Every line of the notes, guidance and secret alike, is normalised: HTML
comments, leading Markdown markers (``#``, ``>``, ``-``/``*``/``+`` bullets, ``1.``/``1)`` numbering,
``[ ]`` task boxes), closing ``#`` marks and the final punctuation are removed; backticks and ``*`` are dropped anywhere, and
``_`` except between word characters (``_emphasis_`` vs ``total_price``); whitespace runs (line breaks
included) become one space; curly quotes and dashes become ASCII; case is ignored. The answer is
normalised the same way, character by character, remembering where each normalised character came
from. A notes line whose normalised text occurs anywhere in the normalised answer is replaced, in the
answer's original text, by ``[…]``. Long lines are also guarded sentence by sentence, so copying one
sentence of a long line, or the code of a line without its trailing comment, is caught too.

**Minimum length.** A line is guarded when its normalised text has at least :data:`MIN_CHARS` (12)
characters and :data:`MIN_WORDS` (2) words; a sentence of a longer line needs :data:`MIN_FRAGMENT_CHARS`
(20) and :data:`MIN_FRAGMENT_WORDS` (3). Shorter notes lines (``x = 1``, ``total = 0``, ``print(x)``,
``Hints``) are what any honest explanation of the exercise says anyway: blocking them would garble
answers without protecting anything. From 12 characters and 2 words on, a line is specific enough to be
the instructor's (``total = sum(prices)``, ``for p in prices:``, ``reset total first``).

**Holding back.** Patterns are matched with an Aho–Corasick automaton over the normalised answer. Its
state after each character is the longest suffix of the answer that is still a prefix of some guarded
line: that tail (from the original position of its first character) is held back, everything before it
can no longer be part of a match and is released, with completed matches replaced. Each delta costs
O(len(delta)) amortised plus the held tail (at most the longest guarded line), whatever the split of
the stream into deltas; the automaton for a set of notes is built once and cached (a few hundred
notes lines: ~30 ms once; an 8000-character answer: ~10 ms in all, fed one character at a time).

A partial copy that diverges before the end of a notes line is released unchanged once it diverges
(it is not a copy of the line); at :meth:`CopyGuard.finish` the held tail is released too.
"""

from __future__ import annotations

import re
from collections import deque
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .instructor import InstructorNotes

REDACTED = "[…]"
MIN_CHARS = 12
MIN_WORDS = 2
MIN_FRAGMENT_CHARS = 20
MIN_FRAGMENT_WORDS = 3

_DROP = frozenset("`*")
_FOLD = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
}
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_LEADING = re.compile(r"^\s*(?:(?:#{1,6}|>|[-*+]|\d{1,9}[.)]|\[[ xX]\])(?:\s+|$))*")
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_COMMENT_TAIL = re.compile(r"\s(?:#|//)\s")
_FINAL_PUNCTUATION = ".,;:!? "


def _fold_char(ch: str) -> str:
    return _FOLD.get(ch, ch).lower()


class _Normaliser:
    """Character-by-character normalisation, the same for the notes and for a streamed answer.

    Whitespace runs become one space; backticks and ``*`` are dropped; ``_`` is kept only between
    word characters (``total_price``, ``a__b``), so ``_emphasis_`` and ``__init__`` read like
    ``emphasis`` and ``init``: underscores after a word character wait for the next character."""

    __slots__ = ("space", "word", "underscore", "underscores")

    def __init__(self) -> None:
        self.space = True  # the last normalised character is a space (or there is none yet)
        self.word = False  # the last character kept is a word character
        self.underscore = -1  # position of the first of a run of undecided '_'
        self.underscores = 0

    def push(self, ch: str, pos: int, out: list[tuple[str, int]]) -> None:
        """Append the normalised characters ``ch`` (at ``pos``) yields, with their positions."""
        if self.underscores:
            if ch == "_":
                self.underscores += 1
                return
            if ch.isalnum():
                out.extend(("_", self.underscore + i) for i in range(self.underscores))
            self.underscore, self.underscores = -1, 0
        if ch.isspace():
            self.word = False
            if not self.space:
                out.append((" ", pos))
                self.space = True
        elif ch in _DROP:
            self.word = False
        elif ch == "_":
            if self.word:
                self.underscore, self.underscores = pos, 1
        else:
            for c in _fold_char(ch):
                out.append((c, pos))
            self.space = False
            self.word = ch.isalnum()


def normalise(text: str) -> str:
    """The form in which notes and answers are compared (see the module's docstring)."""
    out: list[tuple[str, int]] = []
    norm = _Normaliser()
    for i, ch in enumerate(text):
        norm.push(ch, i, out)
    return "".join(c for c, _ in out).strip()


def normalise_line(line: str) -> str:
    """A notes line without its Markdown markers and its final punctuation, normalised."""
    line = _COMMENT.sub(" ", line)
    line = _LEADING.sub("", line)
    line = _CLOSING_HASHES.sub("", line)
    return normalise(line).rstrip(_FINAL_PUNCTUATION)


def _long_enough(norm: str, chars: int, words: int) -> bool:
    return len(norm) >= chars and len(_WORD.findall(norm)) >= words


def guarded(line: str) -> bool:
    """Whether a notes line is long and specific enough to be guarded against copying."""
    return _long_enough(normalise_line(line), MIN_CHARS, MIN_WORDS)


def patterns(lines: list[str]) -> tuple[str, ...]:
    """The normalised texts to block: every guarded line, the long sentences of each, and the code
    of a line before its trailing comment (``total = sum(prices)  # the fix``); final punctuation
    is left out (a copy ending in ``!`` instead of ``.`` is still a copy)."""
    found: set[str] = set()
    for line in lines:
        norm = normalise_line(line)
        if not _long_enough(norm, MIN_CHARS, MIN_WORDS):
            continue
        found.add(norm)
        code = _COMMENT_TAIL.split(norm, maxsplit=1)[0].rstrip(_FINAL_PUNCTUATION)
        if code != norm and _long_enough(code, MIN_CHARS, MIN_WORDS):
            found.add(code)
        sentences = [p.strip().rstrip(_FINAL_PUNCTUATION) for p in _SENTENCE_END.split(norm)]
        if len(sentences) > 1:
            found.update(p for p in sentences if _long_enough(p, MIN_FRAGMENT_CHARS, MIN_FRAGMENT_WORDS))
    return tuple(sorted(found))


class _Automaton:
    """Aho–Corasick over the normalised patterns. ``longest[s]``: the longest pattern ending in state s."""

    __slots__ = ("goto", "fail", "depth", "longest", "max_len")

    def __init__(self, pats: tuple[str, ...]) -> None:
        goto: list[dict[str, int]] = [{}]
        depth = [0]
        longest = [0]
        for p in pats:
            s = 0
            for c in p:
                nxt = goto[s].get(c)
                if nxt is None:
                    nxt = goto[s][c] = len(goto)
                    goto.append({})
                    depth.append(depth[s] + 1)
                    longest.append(0)
                s = nxt
            longest[s] = max(longest[s], len(p))
        fail = [0] * len(goto)
        queue = deque(goto[0].values())
        while queue:
            s = queue.popleft()
            longest[s] = max(longest[s], longest[fail[s]])
            for c, t in goto[s].items():
                f = fail[s]
                while f and c not in goto[f]:
                    f = fail[f]
                fail[t] = goto[f].get(c, 0)
                queue.append(t)
        self.goto, self.fail, self.depth, self.longest = goto, fail, depth, longest
        self.max_len = max((len(p) for p in pats), default=0)


@lru_cache(maxsize=32)
def _automaton(pats: tuple[str, ...]) -> _Automaton | None:
    return _Automaton(pats) if pats else None


def notes_lines(guidance: str, secret: str) -> list[str]:
    """Every notes line, guidance and secret, long enough to be guarded (``InstructorNotes.lines``)."""
    return [ln.strip() for ln in f"{guidance}\n{secret}".splitlines() if guarded(ln)]


@lru_cache(maxsize=32)
def _automaton_for(guidance: str, secret: str) -> _Automaton | None:
    return _automaton(patterns(notes_lines(guidance, secret)))


class CopyGuard:
    """Filters a streamed answer so that no guarded notes line is ever emitted (see the module's docstring)."""

    def __init__(self, notes: InstructorNotes | None) -> None:
        self._ac = _automaton_for(notes.guidance, notes.secret) if notes is not None else None
        self._state = 0
        self._norm = _Normaliser()
        self._pos: deque[int] = deque()  # original index of each recent normalised character
        self._pending = ""  # original text not emitted yet
        self._base = 0  # original index of self._pending[0]
        self._matches: list[list[int]] = []  # [start, end) in original indices, sorted, disjoint
        self._out: list[str] = []

    @property
    def text(self) -> str:
        """Everything emitted so far: the answer as the learner sees it and as it is stored."""
        if len(self._out) > 1:
            self._out[:] = ["".join(self._out)]
        return self._out[0] if self._out else ""

    @property
    def held(self) -> int:
        """Characters received but not emitted yet."""
        return len(self._pending)

    def feed(self, text: str) -> str:
        """A streamed delta in; the text that is safe to emit now out."""
        if not text:
            return ""
        ac = self._ac
        if ac is None:
            self._out.append(text)
            return text
        goto, fail, longest = ac.goto, ac.fail, ac.longest
        state, positions, push = self._state, self._pos, self._norm.push
        chars: list[tuple[str, int]] = []
        start = self._base + len(self._pending)
        for j, ch in enumerate(text):
            push(ch, start + j, chars)
            for c, pos in chars:
                while state and c not in goto[state]:
                    state = fail[state]
                state = goto[state].get(c, 0)
                positions.append(pos)
                n = longest[state]
                if n:
                    self._matched(positions[-n], pos + 1)
            chars.clear()
        self._state = state
        if len(positions) > 2 * ac.max_len + 64:
            for _ in range(len(positions) - ac.max_len):
                positions.popleft()
        self._pending += text
        depth = ac.depth[state]
        boundary = positions[-depth] if depth else self._base + len(self._pending)
        if self._norm.underscore >= 0:
            boundary = min(boundary, self._norm.underscore)
        return self._release(boundary)

    def finish(self) -> str:
        """The end of the stream: the rest, with any copied line replaced."""
        if self._ac is None:
            return ""
        out = self._release(self._base + len(self._pending))
        # anything fed later starts afresh (nothing before this point is held any more)
        self._state, self._norm = 0, _Normaliser()
        self._pos.clear()
        return out

    def _matched(self, start: int, end: int) -> None:
        # matches are found in order of their end; a new one may reach back over earlier ones
        m = self._matches
        while m and start < m[-1][1]:
            start = min(start, m.pop()[0])
        m.append([start, end])

    def _release(self, boundary: int) -> str:
        # a match reaching past the boundary could still grow (overlapping lines): hold it whole
        for s, e in self._matches:
            if e > boundary:
                boundary = min(boundary, s)
                break
        if boundary <= self._base:
            return ""
        pieces: list[str] = []
        at = self._base
        m = self._matches
        while m and m[0][1] <= boundary:
            s, e = m.pop(0)
            pieces.append(self._pending[at - self._base : s - self._base])
            pieces.append(REDACTED)
            at = e
        pieces.append(self._pending[at - self._base : boundary - self._base])
        self._pending = self._pending[boundary - self._base :]
        self._base = boundary
        out = "".join(pieces)
        if out:
            self._out.append(out)
        return out
