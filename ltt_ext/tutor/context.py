"""What the tutor knows about a learner's notebook: executions, errors, cells.

Built by the worker from kernel messages; read by the engines and the prompt
builder. The prompt context is assembled within a token budget in priority
order: the failing cell and its traceback, then the cells it depends on (cells
defining names it uses), then older history; big outputs are elided.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
import time
from collections import deque
from dataclasses import dataclass, field

from .text import elide, estimate_tokens, source_text, strip_ansi

MAX_OUTPUT_CHARS = 2000


@dataclass
class ErrorInfo:
    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)  # ANSI-stripped

    @classmethod
    def from_content(cls, content: dict) -> ErrorInfo:
        return cls(
            ename=str(content.get("ename", "Error")),
            # SyntaxErrors carry "(123456.py, line 2)": a temp file name the learner never saw
            evalue=re.sub(r"\s*\([^()]*\.py, line \d+\)$", "", strip_ansi(str(content.get("evalue", "")))),
            traceback=[strip_ansi(t) for t in content.get("traceback") or []],
        )

    @property
    def traceback_text(self) -> str:
        return "\n".join(self.traceback) or f"{self.ename}: {self.evalue}"

    def signature(self, code: str) -> str:
        """Identity of an error for 'the same error again' (cell code + type + message)."""
        h = hashlib.sha1(f"{code}\0{self.ename}\0{self.evalue}".encode()).hexdigest()
        return h[:16]


@dataclass
class Execution:
    kernel_id: str
    msg_id: str
    code: str = ""
    execution_count: int | None = None
    cell_id: str | None = None
    path: str | None = None
    outputs: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    output_chars: int = 0
    outputs_dropped: int = 0

    @property
    def outputs_full(self) -> bool:
        """Past this, outputs are counted but not even decoded (display floods cost the tutor nothing)."""
        return self.output_chars >= MAX_OUTPUT_CHARS * 2

    def add_output(self, text: str) -> None:
        if self.outputs_full:
            self.outputs_dropped += 1
            return
        self.outputs.append(text)
        self.output_chars += len(text)

    @property
    def output_text(self) -> str:
        text = elide("".join(self.outputs), MAX_OUTPUT_CHARS)
        if self.outputs_dropped:
            text += f"\n…[{self.outputs_dropped} more outputs elided]…"
        return text


@dataclass
class Cell:
    id: str | None
    cell_type: str
    source: str


def output_text(msg_type: str, content: dict) -> str:
    if msg_type == "stream":
        return strip_ansi(str(content.get("text", "")))
    data = content.get("data") or {}
    if "text/plain" in data:
        return strip_ansi(source_text(data["text/plain"])) + "\n"
    kinds = ", ".join(sorted(data)) or "output"
    return f"[{kinds}]\n"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def defined_names(code: str) -> set[str]:
    """Names a piece of code binds (assignments, defs, classes, imports, loops)."""
    names: set[str] = set()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        # fall back to a crude scan of "name =" and def/class lines
        for m in re.finditer(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)|^\s*([A-Za-z_]\w*)\s*=", code, re.M):
            names.add(m.group(1) or m.group(2))
        return names
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def used_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set(_IDENT.findall(code))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


BUILTIN_NAMES = {n for n in dir(builtins) if not n.startswith("_")}


class NotebookContext:
    """Rolling per-notebook state."""

    def __init__(self, path: str, max_executions: int = 20):
        self.path = path
        self.executions: deque[Execution] = deque(maxlen=max_executions)
        self.cells: list[Cell] = []
        self.kernel_id: str | None = None
        self.kernel_state: str | None = None

    def record(self, ex: Execution) -> None:
        self.executions.append(ex)

    @property
    def last_error(self) -> Execution | None:
        for ex in reversed(self.executions):
            if ex.error is not None:
                return ex
        return None

    def last_error_for(self, cell_id: str | None) -> Execution | None:
        if cell_id is None:
            return self.last_error
        for ex in reversed(self.executions):
            if ex.error is not None and ex.cell_id == cell_id:
                return ex
        return None

    def names(self) -> set[str]:
        """Every name the learner has defined in cells or run code (for 'did you mean')."""
        names: set[str] = set()
        for cell in self.cells:
            if cell.cell_type == "code":
                names |= defined_names(cell.source)
        for ex in self.executions:
            names |= defined_names(ex.code)
        return names

    def find_cell_by_source(self, code: str) -> Cell | None:
        """Match executed code to a notebook cell (executions without a cell id)."""
        code_s = code.strip()
        for cell in self.cells:
            if cell.cell_type == "code" and cell.source.strip() == code_s:
                return cell
        return None

    # -- prompt context -------------------------------------------------------
    def render(self, focus: Execution | None, budget_tokens: int, question_cell: str | None = None) -> str:
        """The learner's situation as markdown, highest priority first, within ``budget_tokens``."""
        parts: list[str] = []
        used = 0

        def take(text: str) -> bool:
            nonlocal used
            cost = estimate_tokens(text)
            if used + cost > budget_tokens:
                room = (budget_tokens - used) * 4
                if room > 200:
                    parts.append(elide(text, room))
                    used = budget_tokens
                return False
            parts.append(text)
            used += cost
            return True

        if focus is not None:
            block = f"## The cell that failed (execution [{focus.execution_count}])\n```python\n{focus.code}\n```\n"
            if focus.error is not None:
                tb = elide(focus.error.traceback_text, 3000)
                block += f"\n## Traceback\n```\n{tb}\n```\n"
            if focus.outputs:
                block += f"\n## Output before the error\n```\n{focus.output_text}\n```\n"
            take(block)
        elif question_cell:
            take(question_cell)

        # cells defining names the failing code uses
        if focus is not None and used < budget_tokens:
            wanted = used_names(focus.code) - BUILTIN_NAMES
            deps = [
                c
                for c in self.cells
                if c.cell_type == "code"
                and c.source.strip() != focus.code.strip()
                and defined_names(c.source) & wanted
            ]
            if deps:
                text = "## Cells it depends on\n" + "".join(
                    f"```python\n{elide(c.source, 1500)}\n```\n" for c in deps
                )
                take(text)

        # recent history, newest first, oldest dropped first when the budget runs out
        if used < budget_tokens:
            history = [ex for ex in reversed(self.executions) if ex is not focus][:10]
            if history:
                lines = ["## Recent executions (newest first)"]
                for ex in history:
                    entry = f"[{ex.execution_count}]\n```python\n{elide(ex.code, 800)}\n```"
                    if ex.error is not None:
                        entry += f"\n→ {ex.error.ename}: {ex.error.evalue}"
                    elif ex.outputs:
                        entry += f"\n→ output:\n```\n{elide(ex.output_text, 300)}\n```"
                    lines.append(entry)
                text = "\n".join(lines) + "\n"
                take(text)

        if focus is None and self.cells and used < budget_tokens:
            nb = "## Notebook cells\n" + "".join(
                f"```{'python' if c.cell_type == 'code' else 'markdown'}\n{elide(c.source, 800)}\n```\n"
                for c in self.cells
            )
            take(nb)
        return "\n".join(parts)
