"""Pedagogy policy: the hint ladder and when to speak up on one's own.

Both are per *error*: a conversation (notebook) can have several errors in
flight, each with its own ladder and its own proactive nudge. Pure and
clock-injected so it is unit-testable; the service owns the timers.
"""

from __future__ import annotations

from collections import OrderedDict

NUDGE, HINT, EXPLANATION = 1, 2, 3
MAX_ERRORS = 200  # per conversation: signatures remembered, oldest forgotten first


class HintLadder:
    """The highest level shown, per conversation and error signature.

    The next hint for an error is one rung above the last one *shown* for it: a
    new error starts at the nudge, "more help" and the same error again climb,
    and an error whose nudge was never shown (gated) still starts at the nudge.
    """

    def __init__(self) -> None:
        self._shown: dict[str, OrderedDict[str, int]] = {}

    def shown_level(self, key: str, signature: str) -> int | None:
        levels = self._shown.get(key)
        return levels.get(signature) if levels is not None else None

    def next_level(self, key: str, signature: str) -> int:
        shown = self.shown_level(key, signature)
        return NUDGE if shown is None else min(shown + 1, EXPLANATION)

    def shown(self, key: str, signature: str, level: int) -> None:
        levels = self._shown.setdefault(key, OrderedDict())
        levels[signature] = max(level, levels.get(signature, 0))
        levels.move_to_end(signature)
        while len(levels) > MAX_ERRORS:
            levels.popitem(last=False)

    def forget(self, key: str) -> None:
        self._shown.pop(key, None)


class ProactiveGate:
    """At most one proactive hint per error (conversation + signature) per ``min_interval`` seconds:
    a different error gets its own nudge at once, the same error re-run in a loop does not."""

    def __init__(self, min_interval: float):
        self.min_interval = min_interval
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()

    def allow(self, key: str, signature: str, now: float) -> bool:
        last = self._last.get((key, signature))
        if last is not None and now - last < self.min_interval:
            return False
        self._last[(key, signature)] = now
        self._last.move_to_end((key, signature))
        while len(self._last) > 10_000:
            self._last.popitem(last=False)
        return True
