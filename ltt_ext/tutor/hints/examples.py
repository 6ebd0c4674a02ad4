"""The mechanical check an explanation's example must pass before it is sent.

An example is meant to teach the idea behind the learner's error on *other* code. It is refused
(:func:`check_example` returns a reason) when any of these hold:

1. **names** — it uses an identifier of the learner's cell or of the likely fix (variables,
   functions, parameters; Python's builtins, conventional module names like ``np``, ``self``,
   dunder names like ``__init__`` and one-letter names excepted);
2. **strings** — it contains one of the learner's string literals (2+ characters);
3. **lines** — one of its lines, normalised (comments, spaces and quote style ignored), is a line
   of the learner's cell or of a likely fix;
4. **shapes** — comparing AST shapes (user names and constant values abstracted, builtins,
   attributes and operators kept): the example contains the learner's failing statement's shape,
   or any sub-expression of 3+ nodes that a likely fix *adds* to the learner's line (the fix's
   technique applied to the same shape, e.g. ``"..." + str(x)`` for ``"..." + x``).

The likely fixes come from the family (the learner's line with the culprit corrected: the
suggested name, key, conversion...). When no example passes, the engine explains without code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from ..context import BUILTIN_NAMES
from .where import parse_snippet

CONVENTIONAL = {"np", "pd", "plt", "sns", "math", "random", "os", "sys", "json", "csv", "re", "time"}
CONVENTIONAL |= {"datetime", "statistics", "collections", "string", "self", "cls"}
_IGNORED = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _identifiers(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
    return {
        i
        for i in out
        if len(i) > 1
        and i not in BUILTIN_NAMES
        and i not in CONVENTIONAL
        and not (i.startswith("__") and i.endswith("__"))  # Python's own protocol names
    }


def _strings(tree: ast.AST) -> set[str]:
    return {
        n.value.strip()
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value.strip()) >= 2
    }


def _norm_line(line: str) -> str:
    line = re.sub(r"#.*$", "", line)
    line = line.replace("'", '"')
    return re.sub(r"\s+", "", line)


def shape(node: ast.AST) -> str:
    """An AST with user names and constant values abstracted away."""
    if isinstance(node, ast.Name):
        return node.id if node.id in BUILTIN_NAMES else "_"
    if isinstance(node, ast.Constant):
        return type(node.value).__name__
    if isinstance(node, ast.arg):
        return "arg"
    parts = [type(node).__name__]
    for name, value in ast.iter_fields(node):
        if name in ("ctx", "type_comment", "kind"):
            continue
        if isinstance(value, ast.AST):
            parts.append(shape(value) if not isinstance(value, _IGNORED) else type(value).__name__)
        elif isinstance(value, list):
            parts.append("[" + ",".join(shape(v) if isinstance(v, ast.AST) else repr(v) for v in value) + "]")
        elif name in ("attr",):
            parts.append(str(value))
        elif name in ("name", "id", "arg", "module", "asname"):
            parts.append("_")
        elif value is not None and not isinstance(value, str):
            parts.append(repr(value))
    return "(" + " ".join(parts) + ")"


def _size(node: ast.AST) -> int:
    return sum(1 for n in ast.walk(node) if not isinstance(n, _IGNORED))


def _subtrees(tree: ast.AST, min_size: int = 3) -> set[str]:
    return {
        shape(n)
        for n in ast.walk(tree)
        if isinstance(n, (ast.expr, ast.stmt)) and _size(n) >= min_size and not isinstance(n, ast.Module)
    }


def _statements(tree: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.stmt):
            # compound statements: compare the header only (the body differs anyway)
            if hasattr(n, "body"):
                continue
            out.add(shape(n))
    return out


def _parse_lines(text: str) -> list[ast.AST]:
    """The parse of a block, or of each line that parses on its own (examples of syntax errors)."""
    tree = parse_snippet(text)
    if tree is not None:
        return [tree]
    out: list[ast.AST] = []
    for line in text.splitlines():
        t = parse_snippet(line) if line.strip() else None
        if t is not None:
            out.append(t)
    return out


def check_example(
    example: str, code: str, fixes: Iterable[str] = (), failing_line: str | None = None
) -> str | None:
    """None when ``example`` is safe to show for this learner's ``code``; else why it is not."""
    fixes = [f for f in fixes if f and f.strip()]
    ex_trees = _parse_lines(example)
    learner_trees = _parse_lines(code)
    fix_trees = [t for f in fixes for t in _parse_lines(f)]

    # 1. names
    ex_ids = set().union(*(_identifiers(t) for t in ex_trees)) if ex_trees else set()
    mine = (
        set().union(*(_identifiers(t) for t in learner_trees + fix_trees))
        if learner_trees or fix_trees
        else set()
    )
    if not learner_trees:
        mine |= {
            w for w in re.findall(r"[A-Za-z_]\w+", code) if w not in BUILTIN_NAMES and w not in CONVENTIONAL
        }
        ex_ids |= set(re.findall(r"[A-Za-z_]\w+", example)) & mine
    if common := sorted(ex_ids & mine):
        return f"uses the learner's names {common}"

    # 2. string literals
    ex_str = set().union(*(_strings(t) for t in ex_trees)) if ex_trees else set()
    my_str = (
        set().union(*(_strings(t) for t in learner_trees + fix_trees))
        if learner_trees or fix_trees
        else set()
    )
    if not learner_trees:
        my_str |= {s.strip() for s in re.findall(r"\"([^\"\n]{2,})\"|'([^'\n]{2,})'", code) for s in s if s}
    if common_s := sorted(
        s for s in my_str if s in ex_str or any(s in line for line in example.splitlines())
    ):
        return f"contains the learner's strings {common_s}"

    # 3. whole lines
    mine_lines = {_norm_line(x) for x in (code + "\n" + "\n".join(fixes)).splitlines()}
    mine_lines.discard("")
    for line in example.splitlines():
        n = _norm_line(line)
        if line.strip().startswith(("import ", "from ")):
            continue  # a conventional import reveals nothing
        if n and n in mine_lines and len(n) > 4:
            return f"repeats the line {line.strip()!r}"

    # 4. shapes
    ex_sub = set().union(*(_subtrees(t, 2) for t in ex_trees)) if ex_trees else set()
    ex_stmts = set().union(*(_statements(t) for t in ex_trees)) if ex_trees else set()
    line_tree = parse_snippet(failing_line) if failing_line and failing_line.strip() else None
    if line_tree is not None:
        same = _statements(line_tree) & ex_stmts
        if same and _size(line_tree) > 3:
            return "has the same shape as the learner's failing line"
    original = _subtrees(line_tree) if line_tree is not None else set()
    for ft in fix_trees:
        added = _subtrees(ft) - original
        if hit := sorted(added & ex_sub):
            return f"shows the fix's shape {hit[0][:60]}"
    return None


def pick_example(
    examples: Iterable[str], code: str, fixes: Iterable[str], failing_line: str | None
) -> str | None:
    fixes = list(fixes)
    for ex in examples:
        if check_example(ex, code, fixes, failing_line) is None:
            return ex
    return None
