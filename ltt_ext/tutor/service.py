"""The tutor service: what to answer, when, and with which engine.

How a hint travels: the :class:`~ltt_ext.tutor.tracker.ExecutionTracker` turns
kernel messages into finished executions; a failed one is recorded in its
notebook's context and, once per error (:class:`~ltt_ext.tutor.policy.ProactiveGate`),
gets a proactive hint one rung above the last shown for that error
(:class:`~ltt_ext.tutor.policy.HintLadder`). The service reads the learner's live
values (:mod:`ltt_ext.tutor.facts`), builds a :class:`~ltt_ext.tutor.engines.Job`,
and an engine (LLM, else built-in) fills a reply of the notebook's
:class:`~ltt_ext.tutor.conversations.Conversations`, which stores and pushes it.

This module is pure domain: no tornado. The server side is reached through a
*workspace* object (see :mod:`ltt_ext.workspace`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from ..llm import LLMError, OpenAIProvider
from ..store import Message, Store, StoreUnavailable
from . import facts as runtime
from . import instructor
from .budget import Budget, Spending
from .context import Cell, ErrorInfo, Execution, NotebookContext
from .conversations import Conversations, Event, Subscriber, conversation_of
from .engines import Engine, Job, Output
from .engines.llm import LLMEngine
from .engines.offline import OfflineEngine
from .engines.remote import HubTutorService, RemoteEngine
from .policy import HintLadder, ProactiveGate
from .runaway import RunawayCells
from .settings import TutorSettings, Workspace
from .tracker import IOPUB_TYPES, ExecutionTracker

__all__ = [
    "IOPUB_TYPES",
    "Event",
    "Subscriber",
    "Tutor",
    "TutorForbidden",
    "TutorInputError",
    "TutorNotFound",
    "Workspace",
]


class TutorInputError(ValueError):
    """Bad input from a client (-> 400)."""


class TutorNotFound(LookupError):
    """Unknown notebook or message (-> 404)."""


class TutorForbidden(PermissionError):
    """Turned off by the server's configuration (-> 403)."""


class Tutor(TutorSettings):
    """Follows what learners run, reacts to errors, answers questions."""

    msg_types = ExecutionTracker.msg_types

    def __init__(self, workspace: Workspace | None = None, store: Store | None = None, **kwargs):
        super().__init__(workspace=workspace, **kwargs)
        self._store = store
        self.offline = OfflineEngine()
        self.builtin = self.offline.rules
        self.ladder = HintLadder()
        self.gate = ProactiveGate(self.proactive_interval)
        self.budget = Budget(self.tokens_per_hour, self.requests_per_minute)
        self.spending = Spending(self.budget, lambda: self.store, log=self.log)
        self.tracker = ExecutionTracker(
            self._finished, self._kernel_state, workspace, self.queue_size, log=self.log
        )
        self.conversations = Conversations(lambda: self.store, self._key, self._emit, log=self.log)
        self.conversations.on_change = self._publish_status
        self.runaway = RunawayCells(self)
        from ..terminals.service import TerminalTutor

        self.terminal_tutor = TerminalTutor(self)
        self.tracker.watch = self.runaway.watchdog
        self._llm: OpenAIProvider | None = None
        self._llm_engine: LLMEngine | None = None
        self._contexts: dict[str, NotebookContext] = {}
        self._debounce: dict[str, asyncio.Task] = {}
        self._learner_of: dict[str, str] = {}
        self._last_run: dict[str, str] = {}  # kernel id -> msg id of its latest finished execution
        self._stopping = False
        self.tools: Any = None  # the tool layer (ltt_ext.tools.layer.Tools), set by the app
        self.hub = HubTutorService.from_environment(
            self.hub_service, self.hub_service_url, self.log, busy_after=self.hub_busy_report
        )
        self.remote = RemoteEngine(self.hub, self.offline, log=self.log) if self.hub is not None else None

    # ------------------------------------------------------------------------------------------------
    # configuration views
    @property
    def llm_enabled(self) -> bool:
        if self.hub is not None:
            return self.hub.llm  # the course's service decides
        if self.engine == "builtin":
            return False
        return bool(self.model)

    @property
    def llm(self) -> OpenAIProvider:
        if self._llm is None:
            self._llm = self.make_provider()
        return self._llm

    @property
    def llm_engine(self) -> LLMEngine:
        if self._llm_engine is None:
            self._llm_engine = LLMEngine.configured(
                self, lambda: self.llm, self.spending.record_tokens, tools=self._llm_toolbox
            )
        return self._llm_engine

    def _llm_toolbox(self, job: Job):
        """The tools the LLM may call for this answer (OpenAI function calling), or None."""
        return self.tools.toolbox_for(job) if self.tools is not None else None

    @property
    def store(self) -> Store:
        if self._store is None or self._store.closed:
            self._store = Store(self.db_path, timeout=self.db_timeout)
        return self._store

    @property
    def dropped(self) -> int:
        """Kernel messages the tracker dropped because it fell behind."""
        return self.tracker.dropped

    def info(self) -> dict:
        """What the front end may know: never a key or an endpoint."""
        if self.hub is not None:  # the course's policy, not this server's c.Tutor.* settings
            if self.hub.stale():
                self._refresh_hub_policy()
            return {"proactive": self.proactive, **self.hub.info()}
        return {
            "engine": "llm" if self.llm_enabled else "builtin",
            "model": self.model if self.llm_enabled else None,
            "proactive": self.proactive,
            "allow_solutions": self.allow_solutions,
            "consent_required": self.consent_required and self.llm_enabled,
        }

    # ------------------------------------------------------------------------------------------------
    # lifecycle
    @property
    def event_logger(self):
        return getattr(self.workspace, "event_logger", None)

    _events_registered = False

    def _register_events(self) -> None:
        from ..events import TUTOR_MESSAGE_SCHEMA, TUTOR_MESSAGE_URI

        el = self.event_logger
        if el is None or self._events_registered:
            return
        try:
            el.schemas.get(TUTOR_MESSAGE_URI)
        except KeyError:
            el.register_event_schema(TUTOR_MESSAGE_SCHEMA)
        self._events_registered = True

    def _emit(self, msg: Message) -> None:
        """A jupyter_events record of a finished message: metadata only, never its text."""
        el = self.event_logger
        if el is None:
            return
        from ..events import TUTOR_MESSAGE_URI

        self._register_events()  # start() may not have run yet (e.g. under pytest-jupyter)
        data = {k: v for k, v in msg.to_json().items() if k not in ("text", "created", "updated")}
        data["llm_error"] = msg.extra.get("llm_error")
        data["learner"] = os.environ.get("JUPYTERHUB_USER") or msg.user
        try:
            el.emit(schema_id=TUTOR_MESSAGE_URI, data=data)
        except Exception:
            self.log.debug("ltt tutor: event not emitted", exc_info=True)

    def _refresh_hub_policy(self) -> None:
        assert self.hub is not None
        self.hub.policy_at = time.monotonic()  # one refresh at a time
        try:
            self.conversations.background(self.hub.resolve())
        except RuntimeError:
            pass  # no running loop

    async def _start_hub(self) -> None:
        """Use the course's hub service if there is one (its policy wins), else this server's settings."""
        assert self.hub is not None
        if not await self.hub.resolve() and not self.hub.explicit:
            self.log.info(
                "ltt tutor: no hub service %r found; using this server's c.Tutor settings", self.hub.name
            )
            await self.hub.close()
            self.hub = self.remote = None
            return
        self.log.info(
            "ltt tutor: LLM work goes to the course's hub service %r (%s); this server's c.Tutor.model, "
            "base_url, api_key, allow_solutions, consent_required, tokens_per_hour, requests_per_minute "
            "and instructor notes are ignored: the service's policy applies",
            self.hub.name,
            "available"
            if self.hub.available
            else "not reachable yet: the built-in tutor answers until it is",
        )

    async def start(self) -> None:
        self._stopping = self.conversations.stopping = False
        self._register_events()
        if self.hub is not None:
            await self._start_hub()
        if self.engine == "llm" and not self.model:
            self.log.warning("ltt tutor: engine='llm' but no c.Tutor.model is set; using the built-in engine")
        self.log.info(
            "ltt tutor: %s engine%s, store %s",
            "LLM" if self.llm_enabled else "built-in",
            f" ({self.hub.model if self.hub is not None else self.model})" if self.llm_enabled else "",
            self.db_path,
        )
        try:
            n = await self.store.mark_interrupted("stopped")
        except StoreUnavailable as e:
            n = 0
            self.log.warning("ltt tutor: %s", e)
        if n:
            self.log.info("ltt tutor: closed %d answers left streaming by a previous server", n)
        self.tracker.start()

    async def stop(self) -> None:
        self._stopping = True
        debounce = list(self._debounce.values())
        for t in debounce:
            t.cancel()
        await asyncio.gather(*debounce, return_exceptions=True)
        await self.runaway.stop()
        await self.terminal_tutor.stop()
        await self.tracker.stop()
        await self.conversations.stop()
        if self.hub is not None:
            await self.hub.close()
        if self._llm is not None:
            try:
                await self._llm.close()
            except Exception:
                pass
            self._llm = None
        if self._store is not None:
            await self._store.close()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued kernel message was handled (tests, benchmarks)."""
        await self.tracker.drain(timeout)

    # ------------------------------------------------------------------------------------------------
    # kernel side (ltt_ext.kernels.manager.KernelConsumer): the tracker listens
    def listener_for(self, kernel_id: str) -> Callable[[str, list], None]:
        return self.tracker.listener_for(kernel_id)

    def forget_kernel(self, kernel_id: str) -> None:
        self.tracker.forget_kernel(kernel_id)
        self.runaway.kernel_gone(kernel_id)
        self._last_run.pop(kernel_id, None)

    def kernel_restarted(self, kernel_id: str) -> None:
        self.tracker.kernel_restarted(kernel_id)
        self.runaway.kernel_gone(kernel_id)
        self._last_run.pop(kernel_id, None)  # the values an error was about are gone

    def kernel_died(self, kernel_id: str, restarting: bool) -> None:
        """The kernel process died (the manager restarts it, or gives up): tell its notebooks' learners."""
        self.kernel_restarted(kernel_id)
        if self._stopping:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a hook called from a thread at shutdown): nothing to push to
        self.conversations.background(self._announce_death(kernel_id, restarting))

    async def _announce_death(self, kernel_id: str, restarting: bool) -> None:
        text = (
            "Your kernel restarted: variables from earlier cells are gone — rerun the cells you need."
            if restarting
            else "Your kernel died: variables from earlier cells are gone — restart it and rerun the cells you need."
        )
        state = "restarting" if restarting else "dead"
        self.tracker.kernel_states[kernel_id] = state
        for path in await self.tracker.paths_for_kernel(kernel_id, fresh=True):
            ctx = self.context(path)
            ctx.kernel_state = state
            try:
                await self.conversations.notice(path, text, None)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: kernel death not recorded for %s: %s", path, e)
            self._publish_status(self._key(path))

    def _kernel_state(self, kernel_id: str, state: str, paths: list[str]) -> None:
        for path in paths:
            self.context(path).kernel_state = state
            self._publish_status(self._key(path))
            if self.hub is not None:  # long runs, for the instructor dashboard
                self.hub.kernel_state(path, self._key(path), state)

    async def _holds_cell(self, paths: list[str], cell_id: str) -> bool:
        for path in paths:
            ctx = self.context(path)
            await self._refresh_cells(ctx)
            if any(c.id == cell_id for c in ctx.cells):
                return True
        return False

    async def _notebook_of(self, ex: Execution, paths: list[str]) -> NotebookContext:
        """The notebook an execution came from when several share its kernel: the one holding
        its cell id, else its code; the first session's otherwise."""
        if len(paths) > 1:
            for path in paths:
                ctx = self.context(path)
                await self._refresh_cells(ctx)
                if ex.cell_id:
                    if any(c.id == ex.cell_id for c in ctx.cells):
                        return ctx
                elif ex.code and ctx.find_cell_by_source(ex.code) is not None:
                    return ctx
        return self.context(paths[0])

    async def _finished(self, ex: Execution, paths: list[str]) -> None:
        """The tracker's callback: an execution reached idle."""
        self._last_run[ex.kernel_id] = ex.msg_id
        self.runaway.finished(ex.kernel_id, ex.msg_id)
        if paths and self.workspace is not None and not all([await self.workspace.exists(p) for p in paths]):
            paths = await self.tracker.paths_for_kernel(ex.kernel_id, fresh=True)  # renamed or moved
        if ex.error is not None and ex.cell_id and paths and not await self._holds_cell(paths, ex.cell_id):
            # a notebook opened on this kernel since its sessions were cached: look again
            paths = await self.tracker.paths_for_kernel(ex.kernel_id, fresh=True)
        if not paths:
            return  # a console or a kernel without a notebook: nothing to tutor
        ctx = await self._notebook_of(ex, paths)
        path = ex.path = ctx.path
        ctx.kernel_id = ex.kernel_id
        if ex.error is not None:
            await self._refresh_cells(ctx)
            if not ex.cell_id and ex.code:
                cell = ctx.find_cell_by_source(ex.code)
                if cell is not None:
                    ex.cell_id = cell.id
        ctx.record(ex)
        if self.hub is not None:  # errors (family and message, no code), for the instructor dashboard
            self.hub.execution(ex, path, self._key(path))
        if ex.error is None or not self.proactive or self._stopping:
            return
        key = self._key(path)
        if self.proactive_delay > 0:
            # hint about the last error of a burst, once the burst has been quiet this long
            old = self._debounce.pop(key, None)
            if old is not None:
                old.cancel()
            self._debounce[key] = asyncio.create_task(self._proactive_after_quiet(key, ex))
        else:
            await self._proactive(key, ex)

    async def _proactive_after_quiet(self, key: str, ex: Execution) -> None:
        try:
            await asyncio.sleep(self.proactive_delay)
        finally:
            if self._debounce.get(key) is asyncio.current_task():
                del self._debounce[key]
        await self._proactive(key, ex)

    async def _proactive(self, key: str, ex: Execution) -> None:
        # _finished calls this only for a failed execution, after setting its notebook path
        assert ex.error is not None and ex.path is not None
        sig = ex.error.signature(ex.code)
        if not self.gate.allow(key, sig, time.monotonic()):
            return
        try:
            level = await self._next_level(key, sig)
            learner = self._learner_of.get(key) or self.learner_key(None)
            await self._hint(ex.path, ex, level, learner, consent=False)
        except Exception:
            self.log.exception("ltt tutor: proactive hint failed for %s", ex.path)

    # ------------------------------------------------------------------------------------------------
    # notebook context
    def _key(self, path: str) -> str:
        """The conversation key of a notebook: its file id, or its path without a file-id service."""
        file_id = getattr(self.workspace, "file_id", None)
        if file_id is not None:
            try:
                return file_id(path) or path
            except Exception:
                self.log.debug("ltt tutor: no file id for %s", path, exc_info=True)
        return path

    def context(self, path: str) -> NotebookContext:
        """A notebook's rolling state, by file id; its ``path`` is where the notebook is now."""
        key = self._key(path)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = NotebookContext(path, self.history_executions)
        ctx.path = path
        return ctx

    async def _refresh_cells(self, ctx: NotebookContext) -> None:
        if self.workspace is None:
            return
        try:
            cells = await self.workspace.notebook_cells(ctx.path)
        except Exception:
            self.log.debug("ltt tutor: cannot read cells of %s", ctx.path, exc_info=True)
            return
        if cells is not None:
            ctx.cells = [
                c
                if isinstance(c, Cell)
                else Cell(c.get("id"), c.get("cell_type", "code"), c.get("source", ""))
                for c in cells
            ]

    async def _notes(self, path: str) -> instructor.InstructorNotes | None:
        if not self.instructor_file or self.hub is not None:
            return None  # with a hub service, the notes are the service's (its course folder)
        candidates = instructor.candidate_paths(path, self.instructor_file)
        if self.instructor_dir:
            for candidate in candidates:
                text = instructor.read_private(self.instructor_dir, candidate)
                if text:
                    return instructor.parse(candidate, text)
        if self.workspace is None:
            return None
        for candidate in candidates:
            try:
                text = await self.workspace.read_text(candidate)
            except Exception:
                text = None
            if text:
                return instructor.parse(candidate, text)
        return None

    async def read_facts(self, ex: Execution) -> runtime.RuntimeFacts | None:
        """What the values of the failing code are now, read from the idle kernel without running
        learner code; None when off, busy, not Python, slow, or when the kernel ran something since."""
        inspect = getattr(self.workspace, "user_expressions", None)
        if not self.runtime_facts or inspect is None or ex.error is None or not ex.kernel_id:
            return None
        if self._last_run.get(ex.kernel_id) != ex.msg_id:
            return None  # later cells (or a restart) changed the values since the error
        names = runtime.names_to_inspect(ex.code, runtime.error_line(ex.error.traceback))
        if not names:
            return None
        started = time.perf_counter()
        try:
            found = await inspect(ex.kernel_id, {"ltt": runtime.expression(names)}, self.facts_timeout)
        except Exception:
            self.log.debug("ltt tutor: no runtime facts for kernel %s", ex.kernel_id, exc_info=True)
            return None
        entry = (found or {}).get("ltt") or {}
        if entry.get("status") != "ok":
            return None
        facts = runtime.parse((entry.get("data") or {}).get("text/plain"))
        if facts is not None:
            facts.elapsed_ms = (time.perf_counter() - started) * 1000
        return facts

    # ------------------------------------------------------------------------------------------------
    # requests from learners
    async def _checked_path(self, path: Any) -> str:
        if not isinstance(path, str) or not path.strip():
            raise TutorInputError("'path' must be a notebook path")
        try:
            path = self.workspace.normalize_path(path) if self.workspace is not None else path
        except ValueError as e:
            raise TutorInputError(str(e)) from None
        if self.workspace is not None and not await self.workspace.exists(path):
            raise TutorNotFound(f"no such notebook: {path}")
        return path

    async def checked_path(self, path: Any) -> str:
        """Validate a notebook path the way every request does (for the websocket handler)."""
        return await self._checked_path(path)

    @staticmethod
    def _checked_cell(cell_id: Any) -> str | None:
        if cell_id is None or cell_id == "":
            return None
        if not isinstance(cell_id, str) or len(cell_id) > 200:
            raise TutorInputError("'cell_id' must be a string")
        return cell_id

    def learner_key(self, username: str | None) -> str:
        return (username or "anonymous") if self.budget_scope == "user" else "server"

    async def _admit(self, learner: str) -> str | None:
        if self.hub is not None:
            return None  # the hub service keeps the learner's budget
        return await self.spending.admit(learner) if self.llm_enabled else None

    async def ask(
        self, path: Any, text: Any, cell_id: Any = None, user: str = "anonymous", consent: bool = False
    ) -> tuple[Message, Message]:
        path = await self._checked_path(path)
        cell_id = self._checked_cell(cell_id)
        if not isinstance(text, str) or not text.strip():
            raise TutorInputError("'text' must be a non-empty string")
        if len(text) > 20_000:
            raise TutorInputError("'text' is too long (max 20000 characters)")
        key = await self.conversations.key(path)
        question = await self.conversations.add(
            Message(path, "learner", "question", text=text, cell_id=cell_id, user=user)
        )
        learner = self._learner_of[key] = self.learner_key(user)
        ctx = self.context(path)
        await self._refresh_cells(ctx)
        limit = await self._admit(learner) if self._use_llm(consent) else None
        if limit:
            return question, await self.conversations.notice(path, limit, cell_id)
        focus = self._focus(ctx, cell_id)
        reply = await self._new_reply(path, "answer", focus, None, learner, cell_id=cell_id)
        self.conversations.launch(
            reply, lambda r: self._produce_answer(r, question, focus, cell_id, learner, consent)
        )
        return question, reply

    async def more(
        self, path: Any, cell_id: Any = None, user: str = "anonymous", consent: bool = False
    ) -> tuple[Message, Message]:
        path = await self._checked_path(path)
        cell_id = self._checked_cell(cell_id)
        key = await self.conversations.key(path)
        question = await self.conversations.add(
            Message(path, "learner", "more", text="More help, please.", cell_id=cell_id, user=user)
        )
        learner = self._learner_of[key] = self.learner_key(user)
        ctx = self.context(path)
        await self._refresh_cells(ctx)
        ex = ctx.last_error_for(cell_id) or await self._error_from_store(path, cell_id)
        if ex is None:
            return question, await self.conversations.notice(
                path,
                "There's no recent error to help with here. Run your code, or ask me a question.",
                cell_id,
                role="tutor",
            )
        limit = await self._admit(learner) if self._use_llm(consent) else None
        if limit:
            return question, await self.conversations.notice(path, limit, cell_id)
        assert ex.error is not None  # last_error_for and _error_from_store give failed executions only
        level = await self._next_level(key, ex.error.signature(ex.code))
        return question, await self._hint(path, ex, level, learner, consent=consent)

    async def interrupt(self, path: Any) -> dict:
        """The learner's Interrupt (panel): stop the cell running in the notebook's kernel."""
        path = await self._checked_path(path)
        if not self.interrupt_button:
            raise TutorForbidden("Interrupting cells from the tutor panel is turned off on this server.")
        return await self.runaway.interrupt(path, await self.conversations.key(path))

    async def stop_reply(self, path: Any, msg_id: Any) -> bool:
        path = await self._checked_path(path)
        if not isinstance(msg_id, str) or not msg_id:
            raise TutorInputError("'id' must be a message id")
        return await self.conversations.stop_reply(path, msg_id)

    async def history(self, path: Any, since: float | None = None) -> list[dict]:
        path = await self._checked_path(path)
        return await self.conversations.history(path, since)

    async def messages(self, path: str) -> list[Message]:
        """A notebook's stored conversation (tests, tools)."""
        return await self.store.history(await self.conversations.key(path))

    def subscribe(self, path: str, callback: Subscriber) -> Callable[[], None]:
        return self.conversations.subscribe(path, callback)

    def status(self, path: str) -> Event:
        return self._status(self._key(path))

    def _status(self, key: str) -> Event:
        ctx = self._contexts.get(key)
        event: Event = {
            "type": "status",
            "kernel_state": ctx.kernel_state if ctx else None,
            "thinking": self.conversations.thinking(key),
        }
        runaway = self.runaway.active_message(key)
        if runaway is not None:
            event["watchdog"] = runaway  # a runaway cell's warning, while it runs: Interrupt offered
        return event

    def _publish_status(self, key: str) -> None:
        self.conversations.publish(key, self._status(key))

    # ------------------------------------------------------------------------------------------------
    # replies
    async def _new_reply(
        self,
        path: str,
        kind: str,
        ex: Execution | None,
        level: int | None,
        learner: str,
        cell_id: str | None = None,
    ) -> Message:
        extra = {}
        if ex is not None and ex.error is not None:
            # kept server-side so "more help" still works after a restart
            extra = {
                "code": ex.code[:20_000],
                "error": {
                    "ename": ex.error.ename,
                    "evalue": ex.error.evalue,
                    "traceback": ex.error.traceback[-20:],
                },
                "signature": ex.error.signature(ex.code),
                "execution_count": ex.execution_count,
            }
        msg = Message(
            path,
            "tutor",
            kind,
            cell_id=cell_id or (ex.cell_id if ex else None),
            kernel_id=ex.kernel_id if ex else None,
            level=level,
            status="streaming",
            engine="llm" if self.llm_enabled else "builtin",
            model=(self.hub.model if self.hub is not None else self.model) if self.llm_enabled else None,
            user=learner,
            extra=extra,
        )
        return await self.conversations.add(msg)

    async def _error_from_store(self, path: str, cell_id: str | None) -> Execution | None:
        hint = await self.store.latest(self._key(path), kind="hint", cell_id=cell_id)
        if hint is None or not hint.extra.get("error"):
            return None
        e = hint.extra["error"]
        ex = Execution(
            kernel_id=hint.kernel_id or "",
            msg_id="",
            code=hint.extra.get("code", ""),
            execution_count=hint.extra.get("execution_count"),
            cell_id=hint.cell_id,
            path=path,
        )
        ex.error = ErrorInfo(e.get("ename", "Error"), e.get("evalue", ""), list(e.get("traceback") or []))
        return ex

    async def _next_level(self, key: str, signature: str) -> int:
        """One rung above the last hint shown for this error (remembered across restarts via the store)."""
        if self.ladder.shown_level(key, signature) is None:
            hint = await self.store.latest(key, kind="hint")
            if hint is not None and hint.extra.get("signature") == signature and hint.level:
                self.ladder.shown(key, signature, hint.level)
        return self.ladder.next_level(key, signature)

    @staticmethod
    def _focus(ctx: NotebookContext, cell_id: str | None) -> Execution | None:
        """The error a question is most likely about: the latest execution (of that cell), if it failed."""
        for ex in reversed(ctx.executions):
            if cell_id is None or ex.cell_id == cell_id:
                return ex if ex.error is not None else None
        return None

    def _use_llm(self, consent: bool) -> bool:
        required = self.hub.consent_required if self.hub is not None else self.consent_required
        return self.llm_enabled and (consent or not required)

    async def _hint(self, path: str, ex: Execution, level: int, learner: str, consent: bool) -> Message:
        assert ex.error is not None  # hints are produced for failed executions only
        key = self._key(path)
        self.ladder.shown(key, ex.error.signature(ex.code), level)
        reply = await self._new_reply(path, "hint", ex, level, learner)
        self.conversations.launch(reply, lambda r: self._produce_hint(r, ex, level, learner, consent))
        return reply

    def _output(self, reply: Message) -> Output:
        async def notice(text: str) -> None:
            try:
                await self.conversations.notice(reply.path, text, reply.cell_id)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: notice not recorded: %s", e)

        return Output(reply, lambda t: self.conversations.write(reply, t), notice)

    async def _produce_hint(self, reply: Message, ex: Execution, level: int, learner: str, consent: bool):
        ctx = self._contexts.get(conversation_of(reply)) or self.context(reply.path)
        job = Job("hint", ctx, ex, level, names=ctx.names(), learner=learner)
        job.facts = await self.read_facts(ex)
        use_llm = self._use_llm(consent) and not await self.spending.tokens_spent(learner)
        if use_llm:
            job.notes = await self._notes(reply.path)
        await self._produce(reply, job, use_llm)

    async def _produce_answer(
        self, reply: Message, question: Message, focus: Execution | None, cell_id, learner, consent
    ):
        ctx = self._contexts.get(conversation_of(reply)) or self.context(reply.path)
        level = 1
        if focus is not None:
            assert focus.error is not None  # _focus gives failed executions only
            level = self.ladder.shown_level(conversation_of(reply), focus.error.signature(focus.code)) or 1
        job = Job("answer", ctx, focus, level, question=question.text, names=ctx.names(), learner=learner)
        job.facts = await self.read_facts(focus) if focus is not None else None
        use_llm = self._use_llm(consent)
        if use_llm:
            job.notes = await self._notes(reply.path)
            if focus is None and cell_id:
                cell = next((c for c in ctx.cells if c.id == cell_id), None)
                job.cell_source = cell.source if cell is not None else None
            # earlier turns only: the question itself is the prompt's last message
            earlier = [
                m
                for m in (await self.store.history(conversation_of(reply)))[-10:]
                if m.id not in (question.id, reply.id)
            ]
            job.turns = [
                (m.role, m.text)
                for m in earlier
                if m.role in ("learner", "tutor") and m.text and m.status == "done"
            ][-6:]
        elif self.llm_enabled and not consent:
            self.conversations.write(
                reply, "_Your notebook is only sent to the AI tutor with your consent._\n\n"
            )
        await self._produce(reply, job, use_llm)

    async def _produce(self, reply: Message, job: Job, use_llm: bool) -> None:
        """Fill ``reply`` with the LLM engine, or the built-in one (at once, or when the LLM fails)."""
        out = self._output(reply)
        engine: Engine = (self.remote or self.llm_engine) if use_llm else self.offline
        try:
            await engine.produce(job, out)
        except LLMError as e:
            self.log.warning("ltt tutor: LLM failed (%s); using the built-in engine", e.reason)
            reply.extra["llm_error"] = e.reason
            reply.text = f"_The AI tutor is unavailable right now ({e.reason}), so here is the offline tutor's help._\n\n"
            reply.engine, reply.model = self.offline.name, None
            reply.text += self.offline.text(job)
