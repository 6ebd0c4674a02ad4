"""The built-in, offline engine: rule-based hints for the errors beginners hit most.

Every family answers at the three ladder levels: 1 a nudge (the place — line and token — and the
culprit: the name, key, attribute or operand types), 2 a hint (what is wrong, in the learner's
terms), 3 an explanation with an example on *other* code, checked mechanically against the
learner's code and its likely fix before it is sent (:mod:`ltt_ext.tutor.hints.examples`).

Claims come from the traceback, the cell's code, the notebook's names and, when the service could
inspect the kernel, the runtime facts (:mod:`ltt_ext.tutor.facts`); without them, the rules ask
instead of asserting. The families live in :mod:`ltt_ext.tutor.hints`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .context import ErrorInfo
from .facts import RuntimeFacts
from .hints import FAMILIES, build, explanation
from .hints.base import closest
from .hints.where import Where, locate

ENGINE = "builtin"

OFFLINE_NOTE = (
    "I'm the offline tutor: I can explain errors from your notebook, but I can't answer open questions. "
    "Ask your instructor to configure an LLM for that."
)

LEVEL_TITLES = {1: "Nudge", 2: "Hint", 3: "Explanation"}


class BuiltinEngine:
    name = ENGINE

    def hint(
        self,
        err: ErrorInfo,
        code: str,
        level: int,
        names: Iterable[str] = (),
        facts: RuntimeFacts | None = None,
    ) -> str:
        level = min(max(int(level or 1), 1), 3)
        h, ctx = build(err, code, names, facts)
        body = {1: h.nudge, 2: h.hint}.get(level) or explanation(h, ctx)
        more = "" if level == 3 else "\n\n_Ask for **more help** if you're still stuck._"
        return f"**{LEVEL_TITLES[level]}** — {body}{more}"

    def answer(
        self,
        question: str,
        err: ErrorInfo | None,
        code: str,
        level: int,
        names: Iterable[str] = (),
        facts: RuntimeFacts | None = None,
    ) -> str:
        """Free questions: be honest about what the offline engine can do."""
        if err is not None:
            return f"{OFFLINE_NOTE}\n\nAbout your latest error (**{err.ename}**):\n\n" + self.hint(
                err, code, level, names, facts
            )
        return OFFLINE_NOTE + " When a cell raises an error, I'll explain it step by step."


__all__ = [
    "ENGINE",
    "FAMILIES",
    "LEVEL_TITLES",
    "OFFLINE_NOTE",
    "BuiltinEngine",
    "Where",
    "closest",
    "locate",
]
