"""Pedagogy policy: the hint ladder and when to speak up on one's own.

Pure and clock-injected so it is unit-testable; the service owns the timers.
"""

from __future__ import annotations

from dataclasses import dataclass

NUDGE, HINT, EXPLANATION = 1, 2, 3


@dataclass
class _Rung:
    signature: str
    level: int
    seen: int


class HintLadder:
    """Ladder position per notebook and error.

    A new error starts at the nudge; the same error again (same cell code, type
    and message) climbs one rung; "more help" climbs one rung; a different error
    starts over.
    """

    def __init__(self) -> None:
        self._rungs: dict[tuple[str, str | None], _Rung] = {}

    def on_error(self, path: str, cell_key: str | None, signature: str) -> int:
        key = (path, cell_key)
        rung = self._rungs.get(key)
        if rung is None or rung.signature != signature:
            self._rungs[key] = _Rung(signature, NUDGE, 1)
            return NUDGE
        rung.seen += 1
        rung.level = min(rung.level + 1, EXPLANATION)
        return rung.level

    def current(self, path: str, cell_key: str | None, signature: str) -> int:
        rung = self._rungs.get((path, cell_key))
        return rung.level if rung and rung.signature == signature else NUDGE

    def climb(self, path: str, cell_key: str | None, signature: str) -> int:
        key = (path, cell_key)
        rung = self._rungs.get(key)
        if rung is None or rung.signature != signature:
            rung = self._rungs[key] = _Rung(signature, NUDGE, 1)
        rung.level = min(rung.level + 1, EXPLANATION)
        return rung.level

    def forget(self, path: str) -> None:
        for key in [k for k in self._rungs if k[0] == path]:
            del self._rungs[key]


class ProactiveGate:
    """At most one proactive hint per notebook per ``min_interval`` seconds."""

    def __init__(self, min_interval: float):
        self.min_interval = min_interval
        self._last: dict[str, float] = {}

    def allow(self, path: str, now: float) -> bool:
        last = self._last.get(path)
        if last is not None and now - last < self.min_interval:
            return False
        self._last[path] = now
        return True
