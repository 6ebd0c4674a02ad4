"""The tools of ltt-ext, for every consumer: the tutor's LLM, MCP clients and the learner's panel.

:class:`Tools` (configured with ``c.Tools.*``) holds the registry of :mod:`ltt_ext.tools.base`,
the sidecar kernels (:mod:`ltt_ext.tools.sidecar`, ``c.Sidecars.*``) and the interrupt policy
(:mod:`ltt_ext.tools.interrupt`), and reaches the server only through what the app hands it (the
ServerApp, the tutor, the workspace). What each tool can reach, by caller:

=================  ==========================  ============================  ==========================
tool               tutor's LLM                 MCP client (server token)     panel (the learner)
=================  ==========================  ============================  ==========================
read_notebook      its conversation's notebook any notebook under the root   —
runtime_facts      that notebook's kernel      any notebook's kernel         —
recent_errors      that notebook               any notebook                  —
run_in_sidecar     that notebook's sidecar     any notebook's sidecar        its notebook's sidecar
interrupt_cell     with permission/policy      with permission/policy        always (their own kernel)
run_cell           —                           yes (outputs to the notebook) —
insert_cell        —                           yes                           —
ask_tutor          —                           yes (hint ladder applies)     —
=================  ==========================  ============================  ==========================

No tool reads a file that is not a notebook (instructor notes are Markdown files, or outside the
root), none runs code in the learner's kernel except ``run_cell`` for MCP clients, and
``runtime_facts`` only sends the read-only probe of :mod:`ltt_ext.tutor.facts`. What the LLM reads
through a tool is passed through the conversation's copy guard first, so instructor notes that a
sidecar could read from disk never reach the model word for word.
"""

from __future__ import annotations

import asyncio
import posixpath
import uuid
from typing import Any

from jupyter_core.utils import ensure_async
from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from ..tutor.text import strip_ansi
from . import interrupt as interrupts
from .base import LLM, MCP, PANEL, CallContext, Tool, ToolFailed, ToolRefused, ToolRegistry
from .notebooks import Notebooks
from .sidecar import Sidecars, SidecarUnavailable

TOOL_CALL_URI = "https://schema.ltt-ext.org/tools/call/v1"
LLM_TOOLS = ["read_notebook", "runtime_facts", "recent_errors", "run_in_sidecar", "interrupt_cell"]
MAX_OUTPUT_TEXT = 2000

_current: Tools | None = None


def current() -> Tools | None:
    """The running server's tool layer (MCP tools run in the same process, outside tornado)."""
    return _current


def output_text(output: dict[str, Any]) -> str:
    """One nbformat output as text for a model: stream text, text/plain, a traceback, or a marker."""
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text") or ""
        return "".join(text) if isinstance(text, list) else str(text)
    if kind == "error":
        tb = [strip_ansi(t) for t in output.get("traceback") or []]
        return "\n".join(tb[-6:]) or f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data") or {}
    if "text/plain" in data:
        plain = data["text/plain"]
        return "".join(plain) if isinstance(plain, list) else str(plain)
    return "[" + ", ".join(sorted(data)) + "]" if data else ""


def _elide(text: str, limit: int = MAX_OUTPUT_TEXT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n…[{len(text) - limit} characters elided]…\n" + text[-half:]


def _source(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


class Tools(LoggingConfigurable):
    """ltt-ext's tool layer (c.Tools.*)."""

    function_calling = Bool(
        True,
        config=True,
        help="Offer tools to the tutor's LLM through OpenAI function calling. Endpoints that refuse "
        "tools are detected once and answered prompt-only.",
    )
    llm_tools = List(
        Unicode(),
        default_value=LLM_TOOLS,
        config=True,
        help="Tools the tutor's LLM may call (names). Remove 'run_in_sidecar' to keep the model from running code.",
    )
    max_calls_per_answer = Int(4, config=True, help="Tool calls the tutor's LLM may make for one answer.")
    max_result_chars = Int(
        8000, config=True, help="Characters of JSON a tool result may take (then it is cut)."
    )
    mcp = Bool(True, config=True, help="Serve ltt-ext's tools to MCP clients through jupyter-server-mcp.")
    agents_may_interrupt = Bool(
        False,
        config=True,
        help="Course policy: the tutor's LLM and MCP agents may interrupt a learner's running cell "
        "without the learner's permission (else only with it).",
    )
    run_cell_timeout = Float(120.0, config=True, help="Longest run_cell an MCP client may ask for (seconds).")
    ask_timeout = Float(180.0, config=True, help="Seconds ask_tutor waits for the tutor's reply.")

    def __init__(self, serverapp=None, tutor=None, workspace=None, **kwargs):
        super().__init__(**kwargs)
        self.serverapp = serverapp
        self.tutor = tutor
        self.workspace = workspace
        self.notebooks = Notebooks(serverapp, tutor, workspace, log=self.log)
        self.grants = interrupts.InterruptGrants()
        self.sidecars = Sidecars(serverapp=serverapp, parent=self, log=self.log)
        self.registry = ToolRegistry(log=self.log)
        self.registry.on_call = self._emit
        self._events_registered = False
        for tool in self._tools():
            self.registry.add(tool)

    def activate(self) -> None:
        """Make this the process's tool layer (for MCP)."""
        global _current
        _current = self

    async def close(self) -> None:
        global _current
        if _current is self:
            _current = None
        await self.sidecars.close()

    # -- events ---------------------------------------------------------------------------------
    def _emit(self, record: dict[str, Any]) -> None:
        el = getattr(self.serverapp, "event_logger", None)
        if el is None:
            return
        if not self._events_registered:
            from ..events import EVENTS_DIR

            try:
                el.schemas.get(TOOL_CALL_URI)
            except KeyError:
                el.register_event_schema(EVENTS_DIR / "tool_call.yaml")
            self._events_registered = True
        el.emit(schema_id=TOOL_CALL_URI, data={k: v for k, v in record.items() if v is not None})

    # -- calling ------------------------------------------------------------------------------
    async def call(self, name: str, args: Any, ctx: CallContext):
        return await self.registry.call(name, args, ctx)

    def toolbox_for(self, job) -> ToolBox | None:
        """The tools the tutor's LLM may use for one answer about ``job``'s notebook (None: none)."""
        if not self.function_calling or self.max_calls_per_answer <= 0:
            return None
        if not str(job.ctx.path or "").endswith(".ipynb"):
            return None  # the tools are about notebooks (a terminal's conversation has none)
        names = [n for n in self.llm_tools if n != "run_in_sidecar" or self.sidecars.enabled]
        if "interrupt_cell" in names and not self._may_interrupt(job.ctx.path, LLM):
            names.remove("interrupt_cell")  # not offered when it could only be refused
        specs = self.registry.specs(LLM, names)
        if not specs:
            return None
        ctx = CallContext(LLM, user=job.learner, path=job.ctx.path, notes=job.notes)
        return ToolBox(self, ctx, specs, self.max_calls_per_answer)

    # -- server access: through self.notebooks (ltt_ext.tools.notebooks) ---------------------------
    async def _path(self, ctx: CallContext, args: dict[str, Any]) -> str:
        if ctx.caller == LLM:
            return ctx.path or ""
        return await self.notebooks.notebook_path(args.get("path"))

    # -- the tools ------------------------------------------------------------------------------
    def _may_interrupt(self, path: str | None, caller: str) -> bool:
        if caller == PANEL:
            return True
        return self.agents_may_interrupt or (
            path is not None and self.grants.allowed(self.notebooks.key(path))
        )

    @staticmethod
    def _same_notebook(ctx: CallContext, args: dict[str, Any]) -> str | None:
        """The LLM reads only the notebook its conversation is about."""
        if ctx.caller == LLM:
            if not ctx.path:
                return "this conversation has no notebook"
            asked = args.get("path")
            if asked not in (None, "", ctx.path):
                return "the tutor may only look at the notebook this conversation is about"
        return None

    def _tools(self) -> list[Tool]:
        path_prop = {"type": "string", "description": "Notebook path relative to the server root."}
        everyone = frozenset({LLM, MCP})
        cap = self.max_result_chars
        return [
            Tool(
                "read_notebook",
                "Read the learner's notebook: each cell's id, type, source, execution count and outputs "
                "(as text), from the live document when it is open.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "cell_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 200},
                        "include_outputs": {"type": "boolean", "default": True},
                    },
                    "additionalProperties": False,
                },
                self._read_notebook,
                everyone,
                self._same_notebook,
                cap,
            ),
            Tool(
                "runtime_facts",
                "What some of the learner's variables are right now (type, length, keys, shape, columns), "
                "read from their idle kernel without running their code.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "names": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                            "minItems": 1,
                            "maxItems": 16,
                        },
                    },
                    "required": ["names"],
                    "additionalProperties": False,
                },
                self._runtime_facts,
                everyone,
                self._same_notebook,
                cap,
                timeout=10,
            ),
            Tool(
                "recent_errors",
                "The learner's recent errors in the notebook (cell, error, traceback tail) and the hints "
                "the tutor already gave.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                    },
                    "additionalProperties": False,
                },
                self._recent_errors,
                everyone,
                self._same_notebook,
                cap,
            ),
            Tool(
                "run_in_sidecar",
                "Run a Python snippet in a sidecar kernel: a separate scratch kernel next to the notebook "
                "(same folder and kernelspec), never the learner's. Variables of the learner's kernel "
                "are not defined there; nothing reaches the notebook. Keep snippets short.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "code": {"type": "string", "minLength": 1, "maxLength": 20000},
                    },
                    "required": ["code"],
                    "additionalProperties": False,
                },
                self._run_in_sidecar,
                frozenset({LLM, MCP, PANEL}),
                self._same_notebook,
                max(cap, 60_000),
                timeout=120,
            ),
            Tool(
                "interrupt_cell",
                "Interrupt the cell running in the learner's kernel (a runaway loop). Only with the "
                "learner's permission or when the course allows it.",
                {"type": "object", "properties": {"path": path_prop}, "additionalProperties": False},
                self._interrupt_cell,
                frozenset({LLM, MCP, PANEL}),
                self._same_notebook,
                cap,
            ),
            Tool(
                "run_cell",
                "Run one cell of a notebook in its kernel (a session and kernel are started if the notebook "
                "has none); its outputs are written into the notebook, as when the learner runs it.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "cell_id": {"type": "string", "maxLength": 200},
                        "index": {"type": "integer", "minimum": 0},
                        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                    },
                    "required": ["path"],
                    "additionalProperties": False,
                },
                self._run_cell,
                frozenset({MCP}),
                None,
                cap,
                timeout=3700,
            ),
            Tool(
                "insert_cell",
                "Insert a cell into a notebook (into the live document when it is open, so every browser "
                "sees it; else into the file). Returns the new cell's id.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "source": {"type": "string", "maxLength": 100000},
                        "cell_type": {"enum": ["code", "markdown"], "default": "code"},
                        "index": {"type": "integer", "minimum": 0},
                    },
                    "required": ["path", "source"],
                    "additionalProperties": False,
                },
                self._insert_cell,
                frozenset({MCP}),
                None,
                cap,
            ),
            Tool(
                "ask_tutor",
                "Ask the notebook's tutor a question, or for more help on the latest error (the next step of "
                "the hint ladder). The tutor gives hints, not solutions, as it does in the learner's panel.",
                {
                    "type": "object",
                    "properties": {
                        "path": path_prop,
                        "question": {"type": "string", "minLength": 1, "maxLength": 20000},
                        "cell_id": {"type": "string", "maxLength": 200},
                        "more_help": {"type": "boolean", "default": False},
                    },
                    "required": ["path"],
                    "additionalProperties": False,
                },
                self._ask_tutor,
                frozenset({MCP}),
                None,
                cap,
                timeout=self.ask_timeout + 10,
            ),
        ]

    async def _read_notebook(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        path = await self._path(ctx, args)
        nb, where = await self.notebooks.notebook(path)
        wanted = set(args.get("cell_ids") or [])
        with_outputs = args.get("include_outputs", True)
        cells = []
        for i, c in enumerate(nb.get("cells", [])):
            if wanted and c.get("id") not in wanted:
                continue
            cell: dict[str, Any] = {
                "index": i,
                "id": c.get("id"),
                "cell_type": c.get("cell_type"),
                "source": _source(c.get("source")),
            }
            if c.get("cell_type") == "code":
                cell["execution_count"] = c.get("execution_count")
                if with_outputs:
                    cell["outputs"] = [_elide(output_text(o)) for o in c.get("outputs") or []]
            cells.append(cell)
        return {"path": path, "read_from": where, "cells": cells}

    async def _runtime_facts(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        from ..tutor import facts as runtime

        path = await self._path(ctx, args)
        kernel_id, _ = await self.notebooks.kernel_of(path)
        if not kernel_id:
            raise ToolFailed("the notebook has no running kernel")
        inspect = getattr(self.workspace, "user_expressions", None)
        if inspect is None:
            raise ToolFailed("runtime facts are not available on this server")
        timeout = float(getattr(self.tutor, "facts_timeout", 0.5) or 0.5)
        found = await inspect(kernel_id, {"ltt": runtime.expression(list(args["names"]))}, max(timeout, 1.0))
        entry = (found or {}).get("ltt") or {}
        if entry.get("status") != "ok":
            raise ToolFailed("the learner's kernel is busy, or not a Python kernel: no facts right now")
        facts = runtime.parse((entry.get("data") or {}).get("text/plain"))
        if facts is None:
            raise ToolFailed("the kernel's answer could not be read")
        return {
            "facts": [v.describe() for v in facts.values.values()],
            "undefined": sorted(facts.undefined),
        }

    async def _recent_errors(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        path = await self._path(ctx, args)
        limit = int(args.get("limit") or 5)
        errors: list[dict[str, Any]] = []
        hints: list[dict[str, Any]] = []
        tutor = self.tutor
        if tutor is None:
            return {"errors": errors, "hints": hints}
        ctx_nb = tutor._contexts.get(self.notebooks.key(path))
        for ex in reversed(list(ctx_nb.executions) if ctx_nb is not None else []):
            if ex.error is None:
                continue
            errors.append(
                {
                    "cell_id": ex.cell_id,
                    "execution_count": ex.execution_count,
                    "error": f"{ex.error.ename}: {ex.error.evalue}",
                    "traceback": _elide("\n".join(ex.error.traceback[-4:]), 1500),
                    "code": _elide(ex.code, 1500),
                }
            )
            if len(errors) >= limit:
                break
        try:
            messages = await tutor.messages(path)
        except Exception:
            messages = []
        for m in reversed(messages):
            if m.kind == "hint" and m.status == "done":
                error = (m.extra or {}).get("error") or {}
                hints.append(
                    {
                        "cell_id": m.cell_id,
                        "level": m.level,
                        "error": f"{error.get('ename')}: {error.get('evalue')}" if error else None,
                        "text": _elide(m.text, 1500),
                    }
                )
                if len(hints) >= limit:
                    break
        return {"errors": errors, "hints": hints}

    async def _run_in_sidecar(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        path = (
            await self._path(ctx, args)
            if ctx.caller == LLM
            else await self.notebooks.notebook_path(args.get("path"))
        )
        _, kernel_name = await self.notebooks.kernel_of(path)
        if not kernel_name:
            try:
                nb, _ = await self.notebooks.notebook(path)
                kernel_name = ((nb.get("metadata") or {}).get("kernelspec") or {}).get("name")
            except Exception:
                kernel_name = None
        try:
            run = await self.sidecars.run(self.notebooks.key(path), path, args["code"], kernel_name)
        except SidecarUnavailable as e:
            raise ToolFailed(str(e)) from None
        result = run.to_json()
        if ctx.caller != PANEL:
            result["outputs"] = [_elide(output_text(o)) for o in run.outputs]
        return result

    async def _interrupt_cell(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        path = await self._path(ctx, args)
        kernel_id, _ = await self.notebooks.kernel_of(path)
        caller = interrupts.LEARNER if ctx.caller == PANEL else ctx.caller
        result = await interrupts.interrupt_cell(
            self.serverapp.kernel_manager,
            kernel_id,
            caller=caller,
            learner_allowed=self.grants.allowed(self.notebooks.key(path)),
            course_policy=self.agents_may_interrupt,
            log=self.log,
        )
        if result.refused:
            raise ToolRefused(result.reason)
        return result.to_json()

    async def _ensure_kernel(self, path: str) -> str:
        kernel_id, _ = await self.notebooks.kernel_of(path)
        if kernel_id:
            return kernel_id
        nb, _ = await self.notebooks.notebook(path)
        name = ((nb.get("metadata") or {}).get("kernelspec") or {}).get("name") or None
        model = await self.serverapp.session_manager.create_session(
            path=path, name=posixpath.basename(path), type="notebook", kernel_name=name
        )
        self.log.info("ltt tools: started a session for %s (run_cell)", path)
        return model["kernel"]["id"]

    async def _run_cell(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        from ..kernels.execute import KernelNotReady, execute

        path = await self.notebooks.notebook_path(args.get("path"))
        if args.get("cell_id") is None and args.get("index") is None:
            raise ToolFailed("give the cell's 'cell_id' or its 'index'")
        kernel_id = await self._ensure_kernel(path)
        room = await self.notebooks.room_for_run(path, kernel_id)
        if room is not None:
            nb = (await room.get_jupyter_ydoc()).get()
        else:
            nb, _ = await self.notebooks.notebook(path)
        cells = nb.get("cells", [])
        if args.get("cell_id") is not None:
            found = [(i, c) for i, c in enumerate(cells) if c.get("id") == args["cell_id"]]
            if not found:
                raise ToolFailed(f"no cell with id {args['cell_id']!r} in {path}")
            index, cell = found[0]
        else:
            index = args["index"]
            if index >= len(cells):
                raise ToolFailed(f"{path} has {len(cells)} cells")
            cell = cells[index]
        if cell.get("cell_type") != "code":
            raise ToolFailed("that cell is not a code cell")
        timeout = min(float(args.get("timeout") or 30.0), self.run_cell_timeout)
        km = self.serverapp.kernel_manager.get_kernel(kernel_id)
        if getattr(km, "kernel_client", None) is None:
            raise ToolFailed("this notebook's kernel is remote (a gateway): run_cell needs a local kernel")
        try:
            result = await execute(km, _source(cell.get("source")), timeout=timeout, cell_id=cell.get("id"))
        except KernelNotReady as e:
            raise ToolFailed(str(e)) from None
        return {
            "path": path,
            "cell_id": cell.get("id"),
            "index": index,
            "status": result.status,
            "execution_count": result.execution_count,
            "outputs": [_elide(output_text(o)) for o in result.outputs],
        }

    async def _insert_cell(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        import nbformat

        path = await self.notebooks.notebook_path(args.get("path"))
        kind = args.get("cell_type") or "code"
        cell = (
            nbformat.v4.new_code_cell(args["source"])
            if kind == "code"
            else nbformat.v4.new_markdown_cell(args["source"])
        )
        cell["id"] = uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:4]
        room = self.notebooks.live_room(path)
        if room is not None:
            ydoc = await asyncio.wait_for(room.get_jupyter_ydoc(), 10)
            n = len(ydoc.ycells)
            index = min(args.get("index", n), n)
            ydoc.ycells.insert(index, ydoc.create_ycell(dict(cell)))
            return {"path": path, "cell_id": cell["id"], "index": index, "written_to": "live"}
        cm = self.serverapp.contents_manager
        model = await ensure_async(cm.get(path, content=True, type="notebook"))
        nb = model["content"]
        n = len(nb.cells)
        index = min(args.get("index", n), n)
        nb.cells.insert(index, cell)
        await ensure_async(cm.save({"type": "notebook", "format": "json", "content": nb}, path))
        return {"path": path, "cell_id": cell["id"], "index": index, "written_to": "file"}

    async def _ask_tutor(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        tutor = self.tutor
        if tutor is None or not getattr(tutor, "enabled", True):
            raise ToolFailed("the tutor is turned off on this server")
        path = await self.notebooks.notebook_path(args.get("path"))
        user = ctx.user or "mcp"
        # consent is the learner's own choice in the panel: an agent cannot give it
        if args.get("more_help"):
            _, reply = await tutor.more(path, args.get("cell_id"), user=user, consent=False)
        else:
            question = args.get("question")
            if not question:
                raise ToolFailed("give a 'question' (or more_help: true)")
            _, reply = await tutor.ask(path, question, args.get("cell_id"), user=user, consent=False)
        deadline = asyncio.get_running_loop().time() + self.ask_timeout
        while reply.status == "streaming" and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return {
            "kind": reply.kind,
            "level": reply.level,
            "status": reply.status,
            "engine": reply.engine,
            "text": reply.text,
        }


class ToolBox:
    """The tools of one LLM answer: their OpenAI specs, and a bounded way to call them."""

    def __init__(self, tools: Tools, ctx: CallContext, specs: list[dict[str, Any]], max_calls: int):
        self.tools = tools
        self.ctx = ctx
        self._specs = specs
        self.max_calls = max_calls
        self.calls = 0

    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    async def call(self, name: str, arguments: str | dict | None) -> str:
        """The result as JSON text for the model, with lines of the instructor's notes removed."""
        self.calls += 1
        result = await self.tools.call(name, arguments, self.ctx)
        if self.ctx.notes is not None:
            # every string as the model would read it (before JSON escapes quotes and line breaks)
            result.content = _redact(result.content, self.ctx.notes)
            result.error = _redact(result.error, self.ctx.notes)
        return result.text()


def _redact(value: Any, notes) -> Any:
    """``value`` with every line of the instructor's notes in its strings replaced (the copy guard)."""
    from ..tutor.copyguard import CopyGuard

    if isinstance(value, str):
        guard = CopyGuard(notes)
        return guard.feed(value) + guard.finish()
    if isinstance(value, list):
        return [_redact(v, notes) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, notes) for k, v in value.items()}
    return value
