"""Where an error happened: the learner's line (cell, line number, text, caret column) from an
IPython traceback, and the AST nodes of that line."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..context import ErrorInfo

_FRAME = re.compile(
    r"(?:Cell In\s*\[(?P<cell>\d*)\], line (?P<line>\d+)(?:, in (?P<func>[^\n(]+))?"
    r"|<ipython-input-(?P<cell2>\d+)-\w+> in (?P<func2>[^\n(]+)"
    r"|File \"<[^>]*>\", line (?P<line3>\d+)(?:, in (?P<func3>\S+))?"
    # IPython's plain fallback format: "/tmp/ipykernel_12/3456.py in ?()"
    r"|^\S*ipykernel_\d+/(?P<cell4>\d+)\.py in (?P<func4>[^\n(]+))",
    re.M,
)
_ARROW = re.compile(r"^\s*-*>\s*(\d+)\s?(.*)$", re.M)
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


@dataclass
class Frame:
    cell: str | None
    lineno: int | None
    func: str | None
    text: str | None


@dataclass
class Where:
    """The learner's failing line. ``in_cell``: the line belongs to the code that was just run
    (else it is inside a function defined in another cell, ``cell``)."""

    lineno: int | None
    line: str | None
    in_cell: bool = True
    cell: str | None = None
    func: str | None = None
    col: int | None = None  # 0-based caret column of a SyntaxError, in ``line``
    frames: list[Frame] = field(default_factory=list)

    def md(self) -> str:
        """ "line 2 (`print(totl)`)", or with the function and cell when it is elsewhere."""
        if not self.lineno:
            return "the cell you just ran"
        text = short(self.line)
        s = f"line {self.lineno}"
        if not self.in_cell:
            s += f" of `{self.func}`" if self.func else ""
            s += f" (in cell [{self.cell}])" if self.cell else " (in another cell)"
        return s + (f" (`{text}`)" if text else "")

    def short_md(self) -> str:
        if not self.lineno:
            return "the cell you just ran"
        if not self.in_cell:
            return f"line {self.lineno} of " + (f"`{self.func}`" if self.func else "another cell")
        return f"line {self.lineno}"


def short(text: str | None, limit: int = 70) -> str:
    if not text:
        return ""
    t = text.strip().replace("`", "'")
    return t if len(t) <= limit else t[: limit - 1] + "…"


def frames(err: ErrorInfo) -> list[Frame]:
    tb = "\n".join(err.traceback)
    out: list[Frame] = []
    ms = list(_FRAME.finditer(tb))
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(tb)
        arrow = _ARROW.search(tb, m.end(), end)
        line = m.group("line") or m.group("line3")
        if line is None and arrow:
            line = arrow.group(1)
        func = m.group("func") or m.group("func2") or m.group("func3") or m.group("func4")
        if func and func.strip() in ("?", "<module>"):
            func = None
        out.append(
            Frame(
                m.group("cell") or m.group("cell2") or m.group("cell4"),
                int(line) if line else None,
                func.strip() if func else None,
                arrow.group(2) if arrow else None,
            )
        )
    return out


def locate(err: ErrorInfo, code: str) -> Where:
    """The deepest frame in notebook code (the learner's line), from the traceback."""
    lines = code.splitlines()
    fs = frames(err)
    if err.ename in _SYNTAX:
        return _locate_syntax(err, lines, fs)
    if not fs:
        return Where(None, None)
    top, deep = fs[0], fs[-1]
    in_cell = deep.cell == top.cell and deep.cell is not None or len(fs) == 1
    n = deep.lineno
    text = deep.text
    if in_cell and n and 0 < n <= len(lines):
        text = lines[n - 1]
    return Where(n, text, in_cell, deep.cell, deep.func, None, fs)


def _locate_syntax(err: ErrorInfo, lines: list[str], fs: list[Frame]) -> Where:
    tb = "\n".join(err.traceback)
    n = fs[-1].lineno if fs else None
    if n is None:
        m = re.search(r"line (\d+)\)?\s*$", err.evalue)
        n = int(m.group(1)) if m else None
    text = lines[n - 1] if n and 0 < n <= len(lines) else None
    col = None
    # "    shown line\n        ^": Python strips the shown line's indentation and shifts the caret
    m = re.search(r"\n( *)(\S[^\n]*)\n( *)\^+", tb)
    if m and text is not None:
        shown_indent, shown, caret = len(m.group(1)), m.group(2), len(m.group(3))
        stripped = text.lstrip()
        if stripped.rstrip() == shown.rstrip() or stripped.startswith(shown.rstrip()[:20]):
            col = caret - shown_indent + (len(text) - len(stripped))
            col = max(0, min(col, len(text)))
    return Where(n, text, True, fs[-1].cell if fs else None, None, col, fs)


# -- the failing line's AST ----------------------------------------------------------------------


def parse_snippet(text: str) -> ast.Module | None:
    """Parse a line or block, tolerating a block header without its body and indentation."""
    import textwrap

    src = textwrap.dedent(text).strip("\n")
    for attempt in (src, src + "\n    pass", src.strip() + "\n    pass", src.strip()):
        try:
            return ast.parse(attempt)
        except (SyntaxError, ValueError):
            continue
    return None


@dataclass
class LineView:
    """The parsed failing line: ``nodes`` are its AST nodes, ``src`` the source they index."""

    src: str
    tree: ast.Module | None
    nodes: list[ast.AST]
    lineno: int  # line number of the failing line within ``src``

    def seg(self, node: ast.AST) -> str:
        s = ast.get_source_segment(self.src, node)
        if s is None:
            try:
                s = ast.unparse(node)
            except Exception:
                s = "?"
        return " ".join(s.split()) if "\n" in s else s

    def of(self, *types: type) -> list:
        return [n for n in self.nodes if isinstance(n, types)]


def line_view(where: Where, code: str) -> LineView:
    if where.in_cell and where.lineno:
        try:
            tree: ast.Module | None = ast.parse(code)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None:
            return LineView(code, tree, _nodes_on(tree, where.lineno), where.lineno)
    text = (where.line or "").strip()
    tree = parse_snippet(text) if text else None
    if tree is None:
        return LineView(text, None, [], 1)
    src = text if not text.endswith(":") else text + "\n    pass"
    return LineView(src, tree, _nodes_on(tree, 1), 1)


def _nodes_on(tree: ast.AST, lineno: int) -> list[ast.AST]:
    out = []
    for node in ast.walk(tree):
        start = getattr(node, "lineno", None)
        if start is None:
            continue
        end = getattr(node, "end_lineno", None) or start
        if not (start <= lineno <= end):
            continue
        if isinstance(node, ast.stmt) and start != lineno and not _header_spans(node, lineno):
            continue  # a compound statement whose body holds the line: not the line itself
        out.append(node)
    return out


def _header_spans(node: ast.stmt, lineno: int) -> bool:
    body = getattr(node, "body", None)
    if isinstance(body, list) and body:
        return lineno < body[0].lineno
    return True
