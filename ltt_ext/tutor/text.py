"""Small text helpers: ANSI stripping, token estimates, elision."""

from __future__ import annotations

from ..outputs import strip_ansi

__all__ = ["ELIDED", "estimate_tokens", "strip_ansi"]

ELIDED = "…[{n} characters elided]…"


def estimate_tokens(text: str) -> int:
    """Rough token count (≈4 characters per token): good enough for budgeting a prompt."""
    return (len(text) + 3) // 4


def elide(text: str, max_chars: int) -> str:
    """Keep the head and tail of ``text`` with a marker in between when it is too long."""
    if len(text) <= max_chars:
        return text
    if max_chars < 40:
        return text[:max_chars] + ELIDED.format(n=len(text) - max_chars)
    head = max_chars * 2 // 3
    tail = max_chars - head
    return text[:head] + "\n" + ELIDED.format(n=len(text) - head - tail) + "\n" + text[-tail:]


def source_text(source) -> str:
    """nbformat sources may be a string or a list of lines."""
    if isinstance(source, list):
        return "".join(source)
    return str(source or "")
