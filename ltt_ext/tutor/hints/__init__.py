"""The built-in engine's error families.

:func:`build` turns an error (traceback, the cell's code, the notebook's names, the runtime facts)
into a :class:`~.base.Hint`: level 1 points at the place and the culprit, level 2 says what is wrong,
level 3 explains with an example checked by :func:`~.examples.check_example`.

Modules: :mod:`.where` (the learner's line from a traceback), :mod:`.base` (context and wording),
:mod:`.examples` (the example check), and one module per group of families: :mod:`.names`,
:mod:`.syntax`, :mod:`.typeerrors`, :mod:`.lookups`, :mod:`.values`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..context import ErrorInfo
from ..facts import RuntimeFacts
from . import lookups, names, syntax, typeerrors, values
from .base import Ctx, Hint
from .examples import check_example, pick_example
from .where import Where, locate

log = logging.getLogger(__name__)

Family = Callable[[Ctx], "Hint | None"]

FAMILIES: dict[str, Family] = {
    "NameError": names.name_error,
    "UnboundLocalError": names.unbound_local,
    "ImportError": names.import_error,
    "ModuleNotFoundError": names.module_not_found,
    "SyntaxError": syntax.syntax_error,
    "IndentationError": syntax.indentation_error,
    "TabError": syntax.indentation_error,
    "TypeError": typeerrors.type_error,
    "AttributeError": lookups.attribute_error,
    "KeyError": lookups.key_error,
    "IndexError": lookups.index_error,
    "ValueError": values.value_error,
    "ZeroDivisionError": values.zero_division,
    "OverflowError": values.overflow,
    "StopIteration": values.stop_iteration,
    "AssertionError": values.assertion,
    "UnicodeDecodeError": values.unicode_decode,
    "FileNotFoundError": values.file_not_found,
    "RecursionError": values.recursion,
    "KeyboardInterrupt": values.interrupt,
}


def build(
    err: ErrorInfo, code: str, names_: Iterable[str] = (), facts: RuntimeFacts | None = None
) -> tuple[Hint, Ctx]:
    """The hint for ``err``; a family that cannot say something specific falls back to the default."""
    ctx = Ctx(err, code, set(names_), facts)
    family = FAMILIES.get(err.ename)
    hint = None
    if family is not None:
        try:
            hint = family(ctx)
        except Exception:  # a rule must never cost the learner the hint
            log.exception("ltt tutor: the %s rule failed", err.ename)
            hint = None
    if hint is None:
        try:
            hint = values.default(ctx)
        except Exception:
            log.exception("ltt tutor: the default rule failed")
            hint = Hint(
                f"Look at {ctx.where.md()}.",
                "Print the values used on that line just before it, and compare with what you expected.",
                "Read a traceback from the bottom up: the last line names the error, the arrow marks your line.",
            )
    return hint, ctx


def explanation(hint: Hint, ctx: Ctx) -> str:
    """Level 3: the idea, an example that passed the check (or none), and what to look at."""
    example = pick_example(hint.examples, ctx.code, hint.fixes, ctx.where.line)
    parts = [hint.concept]
    if example is not None:
        parts.append(f"For example, on other code:\n\n```python\n{example}\n```")
    parts.append(hint.after or f"Now look again at {ctx.where.short_md()} of your code with this in mind.")
    return "\n\n".join(p for p in parts if p)


__all__ = ["FAMILIES", "Ctx", "Hint", "Where", "build", "check_example", "explanation", "locate"]
