"""What a family sees (:class:`Ctx`) and returns (:class:`Hint`), and the wording helpers.

Every claim a hint makes comes from one of: the traceback (line, message), the cell's code, the
names defined in the notebook, or the runtime facts (values *now*, after the error). Helpers here
say which ones they relied on; families ask a question when none of them settles a claim.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from ..context import BUILTIN_NAMES, ErrorInfo
from ..facts import RuntimeFacts, ValueFact
from .where import LineView, Where, line_view, locate, short

MODULE_ALIASES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "sns": "seaborn",
    "tf": "tensorflow",
    "sp": "scipy",
}
COMMON_MODULES = {
    "math",
    "random",
    "statistics",
    "os",
    "sys",
    "json",
    "csv",
    "re",
    "time",
    "datetime",
    "collections",
    "itertools",
    "string",
    "numpy",
    "pandas",
    "matplotlib",
    "seaborn",
    "scipy",
    "sklearn",
    "requests",
    "turtle",
    "pathlib",
    "functools",
}


@dataclass
class Hint:
    """A family's answer. ``examples``: candidate example blocks, the first that passes
    :func:`~.examples.check_example` is shown; ``fixes``: likely fixed versions of the learner's
    line (for that check)."""

    nudge: str
    hint: str
    concept: str
    examples: list[str] = field(default_factory=list)
    after: str = ""
    fixes: list[str] = field(default_factory=list)


@dataclass
class Ctx:
    err: ErrorInfo
    code: str
    names: set[str]
    facts: RuntimeFacts | None = None

    @cached_property
    def where(self) -> Where:
        return locate(self.err, self.code)

    @cached_property
    def view(self) -> LineView:
        return line_view(self.where, self.code)

    @cached_property
    def tree(self) -> ast.Module | None:
        try:
            return ast.parse(self.code)
        except (SyntaxError, ValueError):
            return None

    @property
    def lines(self) -> list[str]:
        return self.code.splitlines()

    # -- facts -------------------------------------------------------------------------------
    def fact(self, name: str | None) -> ValueFact | None:
        if not name or self.facts is None:
            return None
        return self.facts.get(name)

    def fact_of(self, node: ast.AST | None) -> ValueFact | None:
        return self.fact(node.id) if isinstance(node, ast.Name) else None

    def defined_now(self, name: str) -> bool | None:
        return self.facts.defined(name) if self.facts is not None else None

    # -- places ------------------------------------------------------------------------------
    def at(self) -> str:
        """'On line 2 (`print(totl)`)' — where the learner should look."""
        return ("On " if self.where.lineno else "In ") + self.where.md()

    def seg(self, node: ast.AST) -> str:
        return self.view.seg(node)

    def assignments(self, name: str) -> list[tuple[int, str, ast.AST]]:
        """(line, line text, value node) of the cell's assignments to ``name``."""
        out: list[tuple[int, str, ast.AST]] = []
        if self.tree is None:
            return out
        for node in ast.walk(self.tree):
            targets: list[ast.expr] = []
            value: ast.AST | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets, value = [node.target], node.value
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets, value = [node.target], None
            for t in targets:
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(t)):
                    line = t.lineno
                    out.append((line, self.lines[line - 1].strip(), value or node))
        return sorted(out, key=lambda x: x[0])

    def assigned_before(self, name: str) -> tuple[int, str, ast.AST] | None:
        """The last assignment to ``name`` above the failing line in this cell."""
        if not self.where.in_cell or not self.where.lineno:
            return None
        before = [a for a in self.assignments(name) if a[0] < self.where.lineno]
        return before[-1] if before else None


# -- wording -------------------------------------------------------------------------------------


def q(s: object) -> str:
    return f"`{s}`"


def an(word: str) -> str:
    """'an' or 'a' for the word that follows (type names included: an `int`, a `str`)."""
    w = word.strip("`*_ ").lower()
    vowel_sound = w[:1] in "aeio" or (w[:1] == "u" and not w.startswith(("us", "uni", "utf")))
    return "an" if vowel_sound and w else "a"


def a_type(t: str) -> str:
    """ "an `int`", "a `str`", "a NumPy array", "a pandas DataFrame"."""
    friendly = {
        "numpy.ndarray": "NumPy array",
        "pandas.DataFrame": "pandas DataFrame",
        "pandas.Series": "pandas Series",
        "NoneType": "`None`",
    }
    if t == "NoneType":
        return "`None`"
    if t in friendly:
        return f"{an(friendly[t])} {friendly[t]}"
    return f"{an(t)} `{t}`"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(f: ValueFact) -> str:
    """What a value is, for a sentence: "`None`", "an `int` (30)", "a `list` of 3 items"."""
    t = f.type
    if t == "NoneType":
        return "`None`"
    if f.kind in ("function", "class", "module"):
        return f"{an(f.kind)} {f.kind}"
    if t in ("int", "float", "bool", "complex") and f.preview is not None:
        return f"{a_type(t)} ({f.preview})"
    if t == "str" and f.preview is not None:
        return (
            f"{a_type(t)} ({f.preview})" if len(f.preview) <= 40 else f"{a_type(t)} of {f.length} characters"
        )
    if t in ("list", "tuple", "set", "frozenset") and f.length is not None:
        return f"an empty `{t}`" if f.length == 0 else f"{a_type(t)} of {plural(f.length, 'item')}"
    if t == "dict" and f.length is not None:
        return "an empty `dict`" if f.length == 0 else f"a `dict` with {plural(f.length, 'key')}"
    if t == "numpy.ndarray" and f.shape is not None:
        return f"a NumPy array of shape {tuple(f.shape)}"
    if t == "pandas.DataFrame" and f.shape is not None and len(f.shape) == 2:
        return f"a DataFrame of {plural(f.shape[0], 'row')} and {plural(f.shape[1], 'column')}"
    if t == "pandas.Series" and f.length is not None:
        return f"a pandas Series of {plural(f.length, 'value')}"
    if not f.builtin:
        return f"{an(t)} `{t}` object"
    return a_type(t)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def type_word(f: ValueFact | None) -> str | None:
    """The short type name of a fact ('int', 'list', 'NoneType'...)."""
    return f.type if f is not None else None


def closest(word: str, candidates: Iterable, n: int = 3, cutoff: float = 0.7) -> list:
    """Case-insensitive and whitespace-insensitive matches first, then difflib's close matches."""
    cands = [c for c in dict.fromkeys(candidates) if c != word]
    strs = [c for c in cands if isinstance(c, str)]
    if not isinstance(word, str):
        return []
    exact = [c for c in strs if c.lower() == word.lower() or c.strip() == word.strip()]
    exact += [c for c in strs if c.strip().lower() == word.strip().lower() and c not in exact]
    near = difflib.get_close_matches(word, strs, n=n, cutoff=cutoff)
    lower = {c.lower(): c for c in strs}
    near += [lower[m] for m in difflib.get_close_matches(word.lower(), list(lower), n=n, cutoff=cutoff)]
    out: list = []
    for c in exact + near:
        if c not in out:
            out.append(c)
    return out[:n]


def or_list(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def and_list(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def is_builtin_name(name: str) -> bool:
    return name in BUILTIN_NAMES


def literal(text: str):
    """A Python literal from a message (KeyError's repr), or the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _simple_assign(ctx: Ctx, name: str, lineno: int) -> bool:
    """The assignment on ``lineno`` is a plain ``name = value`` at the cell's top level (not in a loop
    or a branch that may not have run, nor a tuple target)."""
    if ctx.tree is None:
        return False
    for stmt in ctx.tree.body:
        if stmt.lineno == lineno and isinstance(stmt, ast.Assign):
            return all(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
    return False


def static_length(node: ast.AST, ctx: Ctx) -> int | None:
    """How many items a value has, when the facts or a literal assigned in the cell say so."""
    if isinstance(node, ast.Name):
        f = ctx.fact(node.id)
        if f is not None:
            return f.length if f.shape is None or len(f.shape) == 1 else None
        a = ctx.assigned_before(node.id)
        if a is not None and _simple_assign(ctx, node.id, a[0]):
            return static_length(a[2], ctx)
        return None
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not any(
        isinstance(e, ast.Starred) for e in node.elts
    ):
        return len(node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return len(node.keys)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return len(node.value)
    return None


def static_value(node: ast.AST, ctx: Ctx, _depth: int = 0) -> str | int | float | None:
    """A text or number the code (a literal, a plain assignment above in the cell) or the facts
    (a complete preview) settle, else None."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (str, int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = static_value(node.operand, ctx, _depth + 1)
        return -v if type(v) in (int, float) else None  # type: ignore[operator]
    if not isinstance(node, ast.Name) or _depth > 3:
        return None
    f = ctx.fact(node.id)
    if f is not None:
        if f.type not in ("str", "int", "float") or f.preview is None:
            return None
        v = literal(f.preview)
        complete = type(v).__name__ == f.type and (not isinstance(v, str) or len(v) == f.length)
        return v if complete and isinstance(v, (str, int, float)) else None
    a = ctx.assigned_before(node.id)
    if a is not None and isinstance(a[2], ast.expr) and _simple_assign(ctx, node.id, a[0]):
        return static_value(a[2], ctx, _depth + 1)
    return None


def static_type(node: ast.AST, ctx: Ctx, _depth: int = 0) -> str | None:
    """The type of an expression when the code or the facts settle it, else None."""
    if isinstance(node, ast.Constant):
        return "NoneType" if node.value is None else type(node.value).__name__
    if isinstance(node, ast.JoinedStr):
        return "str"
    if isinstance(node, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(node, ast.Tuple):
        return "tuple"
    if isinstance(node, ast.Name):
        f = ctx.fact(node.id)
        if f is not None:
            return f.type
        a = ctx.assigned_before(node.id) if _depth < 3 else None
        if a is not None and isinstance(a[2], ast.expr) and _simple_assign(ctx, node.id, a[0]):
            return static_type(a[2], ctx, _depth + 1)
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        shadowed = ctx.fact(fn) is not None  # a builtin name found in the learner's namespace
        if fn in ("str", "input", "repr", "chr") and not shadowed:
            return "str"
        if fn in ("int", "len", "round", "ord") and not shadowed:
            return "int"
        if fn == "float" and not shadowed:
            return "float"
        if fn in ("list", "sorted") and not shadowed:
            return "list"
    if isinstance(node, ast.Call) and ctx.fact(ast.unparse(node.func).split(".")[0]) is None:
        fn = ast.unparse(node.func)
        if fn in ("pd.DataFrame", "pandas.DataFrame"):
            return "pandas.DataFrame"
        if fn in ("np.array", "numpy.array"):
            return "numpy.ndarray"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = static_type(node.left, ctx, _depth + 1), static_type(node.right, ctx, _depth + 1)
        if left in ("int", "float") and right in ("int", "float"):
            return "float"
    return None


__all__ = [
    "COMMON_MODULES",
    "MODULE_ALIASES",
    "Ctx",
    "Hint",
    "a_type",
    "an",
    "and_list",
    "closest",
    "describe",
    "is_builtin_name",
    "literal",
    "or_list",
    "plural",
    "q",
    "short",
    "static_type",
    "static_value",
    "type_word",
]
