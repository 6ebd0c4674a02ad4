"""What a running cell's code says about why it may never end (``ast`` only; never run).

:func:`analyze` finds the loop likely to blame — a ``while`` whose condition's names nothing in
its body changes, a ``while True`` without ``break``, an endless ``for`` — at hint level 1: where
to look, not the fix. Used by the runaway-cell watchdog (:mod:`ltt_ext.tutor.watchdog`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class Finding:
    """The likely culprit in a cell's code."""

    reason: str  # "no-break" | "unchanged" | "break" | "condition" | "endless-for" | "sleep" | "recursion"
    line: int | None = None
    header: str = ""  # the loop's first line, e.g. "while n > 0:"
    names: list[str] = field(default_factory=list)  # the condition's names nothing changes
    waits_for_input: bool = False


_INPUT_CALLS = {"input", "getpass"}


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _loop_body_nodes(loop: ast.While | ast.For):
    """Nodes of a loop's body (and else), not descending into nested functions or classes."""
    stack: list[ast.AST] = [*loop.body, *loop.orelse]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _exits(loop: ast.While | ast.For) -> bool:
    """Does the loop's own body hold a break, return or raise (not one of a nested loop's breaks)?"""
    stack: list[ast.AST] = [*loop.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Return, ast.Raise)):
            return True
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.While, ast.For, ast.AsyncFor)):
            # a nested loop's break ends that loop only; its return/raise still count
            stack.extend(n for n in ast.walk(node) if isinstance(n, (ast.Return, ast.Raise)))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _changed_names(loop: ast.While) -> set[str]:
    """Names the loop body may change: assigned, deleted, or used as the object of a method call or
    a subscript/attribute assignment (``items.pop()``, ``d[k] = v``), or passed to a call (a function
    may mutate it), or declared global/nonlocal inside."""
    changed: set[str] = set()
    for node in _loop_body_nodes(loop):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            changed.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            base = node.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                changed.add(base.id)
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                base = f.value
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name):
                    changed.add(base.id)
            if isinstance(f, ast.Name) and f.id in _BUILTIN_CALLS:
                continue  # print(i), len(items): read only
            for arg in list(node.args) + [k.value for k in node.keywords]:
                if isinstance(arg, ast.Name):
                    changed.add(arg.id)  # fill(buffer) may change buffer
            if isinstance(f, ast.Name):
                changed.add("*call*")  # a function of the learner's may change a global
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            changed.update(node.names)
    return changed


_BUILTIN_CALLS = {
    "print", "len", "range", "str", "int", "float", "abs", "min", "max", "sum", "round", "repr",
    "isinstance", "type", "sorted", "list", "dict", "set", "tuple", "bool", "format", "enumerate",
    "zip", "any", "all", "chr", "ord", "hex", "bin", "divmod", "pow",
}  # fmt: skip


def _is_constant_true(test: ast.expr) -> bool:
    if isinstance(test, ast.Constant):
        return bool(test.value)
    return False


def _cond_names(test: ast.expr) -> list[str]:
    names: list[str] = []
    for node in ast.walk(test):
        if isinstance(node, ast.Call):
            return []  # the condition calls something: it may change by itself (time, input, I/O)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in names:
            names.append(node.id)
    return names


def _header(code_lines: list[str], node: ast.stmt) -> str:
    line = code_lines[node.lineno - 1].strip() if 0 < node.lineno <= len(code_lines) else ""
    return line[:120]


def _endless_iterable(it: ast.expr) -> bool:
    if isinstance(it, ast.Call):
        name = _call_name(it)
        if name in ("count", "cycle", "repeat") and (name != "repeat" or len(it.args) < 2):
            return True
        if name == "iter" and len(it.args) == 2:
            return True
    return False


def analyze(code: str) -> Finding | None:
    """The loop most likely to blame for a cell that never ends, from its code alone."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return None
    lines = code.splitlines()
    waits = any(isinstance(n, ast.Call) and _call_name(n) in _INPUT_CALLS for n in ast.walk(tree))
    best: Finding | None = None
    rank = {"no-break": 0, "unchanged": 1, "endless-for": 2, "break": 3, "condition": 4, "sleep": 5}
    for node in ast.walk(tree):
        found: Finding | None = None
        if isinstance(node, ast.While):
            exits = _exits(node)
            if _is_constant_true(node.test):
                found = Finding("break" if exits else "no-break", node.lineno, _header(lines, node))
            else:
                names = _cond_names(node.test)
                changed = _changed_names(node)
                unchanged = [n for n in names if n not in changed]
                if names and unchanged == names and "*call*" not in changed and not exits:
                    found = Finding("unchanged", node.lineno, _header(lines, node), unchanged)
                else:
                    found = Finding("break" if exits else "condition", node.lineno, _header(lines, node))
        elif isinstance(node, (ast.For, ast.AsyncFor)) and _endless_iterable(node.iter):
            found = Finding("endless-for", node.lineno, _header(lines, node))
        elif isinstance(node, ast.Call) and _call_name(node) == "sleep":
            found = Finding("sleep", node.lineno, _header(lines, node))  # type: ignore[arg-type]
        if found is not None and (best is None or rank[found.reason] < rank[best.reason]):
            best = found
    if best is None and waits:
        best = Finding("input")
    if best is not None:
        best.waits_for_input = waits
    return best
