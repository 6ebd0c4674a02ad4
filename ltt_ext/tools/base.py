"""The tool layer's core: a tool's definition, who may call it, and one bounded way to call it.

A :class:`Tool` has a name, a description, a JSON-schema'd input, the callers it serves (the
tutor's LLM, MCP clients, the learner's panel), an authorization rule and a result size cap.
:meth:`ToolRegistry.call` is the only way in: it checks the caller, validates the input
(bad input is an ``invalid`` result naming the problem, never an exception), asks the tool's
rule, runs it within a time limit, caps the result, and reports the call (metadata only) to
``on_call`` (the layer emits it as a jupyter_events record). Plain Python: no tornado.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

# Callers
LLM = "llm"  # the tutor's LLM, answering a learner in one notebook's conversation
MCP = "mcp"  # an MCP client that presented the server's token
PANEL = "panel"  # the learner's own panel (authenticated REST)
CALLERS = (LLM, MCP, PANEL)

CUT_MARKER = "…[cut: the result was too long]"


class ToolRefused(Exception):
    """Raised by a tool (or its rule) when this caller may not do this; the text is shown."""


class ToolFailed(Exception):
    """An expected failure (no kernel, not a notebook…); the text is shown to the caller."""


@dataclass
class CallContext:
    """Who calls, and what they are bound to."""

    caller: str
    user: str = "anonymous"
    path: str | None = None  # the notebook an LLM conversation is about (LLM callers only read it)
    notes: Any = None  # the instructor notes of that conversation: redacted from what the LLM reads
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResult:
    status: str  # ok | error | refused | invalid
    content: Any = None
    error: str | None = None
    truncated: bool = False
    chars: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"status": "ok", "result": self.content, "truncated": self.truncated}
        return {"status": self.status, "error": self.error}

    def text(self) -> str:
        """The result as the JSON text given to an LLM or an MCP client."""
        return json.dumps(self.to_json(), ensure_ascii=False, default=str)


Run = Callable[[CallContext, dict[str, Any]], Awaitable[Any]]
Rule = Callable[[CallContext, dict[str, Any]], Awaitable[str | None] | str | None]


@dataclass
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    run: Run
    callers: frozenset[str] = frozenset(CALLERS)
    authorize: Rule | None = None  # returns a refusal reason, or None
    max_result_chars: int = 8000
    timeout: float = 30.0

    def __post_init__(self) -> None:
        jsonschema.Draft202012Validator.check_schema(self.input_schema)
        self._validator = jsonschema.Draft202012Validator(self.input_schema)

    def validation_error(self, args: Any) -> str | None:
        if not isinstance(args, dict):
            return "the input must be a JSON object"
        errors = sorted(self._validator.iter_errors(args), key=lambda e: list(e.path))
        if not errors:
            return None
        e = errors[0]
        where = "/".join(str(p) for p in e.path)
        return f"{where}: {e.message}" if where else e.message

    def openai_spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.input_schema},
        }


def cap(content: Any, limit: int) -> tuple[Any, bool, int]:
    """``content`` within ``limit`` characters of JSON: long strings are cut, long lists shortened."""
    text = json.dumps(content, ensure_ascii=False, default=str)
    if limit <= 0 or len(text) <= limit:
        return content, False, len(text)
    if isinstance(content, str):
        cut = content[: max(0, limit - len(CUT_MARKER) - 2)] + CUT_MARKER
        return cut, True, len(cut)
    # shrink the largest strings first, then drop list items from the end
    content = json.loads(text)
    for _ in range(60):
        text = json.dumps(content, ensure_ascii=False)
        if len(text) <= limit:
            return content, True, len(text)
        if not _shrink(content, len(text) - limit):
            break
    return {"cut": CUT_MARKER, "preview": text[: max(0, limit - 100)]}, True, limit


def _shrink(value: Any, excess: int) -> bool:
    """Shorten the longest string (or list) inside ``value``; False when nothing is left to cut."""
    best: tuple[int, Any, Any] | None = None
    stack = [value]
    while stack:
        item = stack.pop()
        children = (
            item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        )
        for key, child in children:
            size = len(child) if isinstance(child, (str, list)) else 0
            if size > 1 and (best is None or size > best[0]):
                best = (size, item, key)
            if isinstance(child, (dict, list)):
                stack.append(child)
    if best is None:
        return False
    size, parent, key = best
    child = parent[key]
    keep = size // 2  # halve the largest piece; a few rounds reach any limit
    if isinstance(child, str):
        parent[key] = child[:keep] + CUT_MARKER
    else:
        parent[key] = child[:keep] + [CUT_MARKER]
    return True


class ToolRegistry:
    def __init__(self, log: logging.Logger | None = None):
        self.log = log or logging.getLogger(__name__)
        self._tools: dict[str, Tool] = {}
        self.on_call: Callable[[dict[str, Any]], None] = lambda record: None

    def add(self, tool: Tool) -> Tool:
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self, caller: str | None = None) -> list[str]:
        return [t.name for t in self._tools.values() if caller is None or caller in t.callers]

    def specs(self, caller: str, names: list[str] | None = None) -> list[dict[str, Any]]:
        """OpenAI ``tools=`` entries of the tools ``caller`` may use (optionally only ``names``)."""
        return [
            t.openai_spec()
            for t in self._tools.values()
            if caller in t.callers and (names is None or t.name in names)
        ]

    async def call(self, name: str, args: Any, ctx: CallContext) -> ToolResult:
        started = time.perf_counter()
        tool = self._tools.get(name)
        result = await self._call(tool, name, args, ctx)
        record = {
            "tool": name if tool is not None else "(unknown)",
            "caller": ctx.caller,
            "status": result.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "result_chars": result.chars,
            "truncated": result.truncated,
            "path": ctx.path
            or (args.get("path") if isinstance(args, dict) and isinstance(args.get("path"), str) else None),
        }
        self.log.info(
            "ltt tools: %s by %s -> %s (%.0f ms)",
            record["tool"],
            ctx.caller,
            result.status,
            record["duration_ms"],
        )
        try:
            self.on_call(record)
        except Exception:
            self.log.debug("ltt tools: call record not emitted", exc_info=True)
        return result

    async def _call(self, tool: Tool | None, name: str, args: Any, ctx: CallContext) -> ToolResult:
        if tool is None:
            return ToolResult("invalid", error=f"no such tool: {name!r}")
        if ctx.caller not in tool.callers:
            return ToolResult("refused", error=f"the tool {name!r} is not available to this caller")
        if args is None:
            args = {}
        if isinstance(args, str):
            try:
                args = json.loads(args or "{}")
            except ValueError as e:
                return ToolResult("invalid", error=f"the arguments are not valid JSON: {e}")
        problem = tool.validation_error(args)
        if problem is not None:
            return ToolResult("invalid", error=f"invalid input for {name}: {problem}")
        try:
            if tool.authorize is not None:
                refusal = tool.authorize(ctx, args)
                if asyncio.iscoroutine(refusal):
                    refusal = await refusal
                if refusal:
                    return ToolResult("refused", error=str(refusal))
            content = await asyncio.wait_for(tool.run(ctx, args), tool.timeout)
        except ToolRefused as e:
            return ToolResult("refused", error=str(e))
        except ToolFailed as e:
            return ToolResult("error", error=str(e))
        except asyncio.TimeoutError:
            return ToolResult("error", error=f"the tool {name!r} took longer than {tool.timeout:g} s")
        except Exception as e:
            self.log.warning("ltt tools: %s failed", name, exc_info=True)
            return ToolResult("error", error=f"the tool {name!r} failed ({type(e).__name__})")
        content, truncated, chars = cap(content, tool.max_result_chars)
        return ToolResult("ok", content, truncated=truncated, chars=chars)
