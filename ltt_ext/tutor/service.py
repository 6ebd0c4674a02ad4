"""The tutor service: kernel listener, worker, engines, store and live push.

How a hint travels: the shared kernel client calls :meth:`Tutor.listener_for`'s
callback with each iopub message; the callback only enqueues. The worker task
groups messages by their parent request into an :class:`Execution`, and on the
``idle`` status maps kernel -> session -> notebook path (and the executed code
to a notebook cell when the msg id carries no cell id). An execution that raised
is recorded in the notebook's context, climbs the hint ladder, and (debounced,
rate-limited) triggers a proactive hint: a message is stored in SQLite and
pushed to every subscriber of that notebook; the engine (LLM or built-in) then
fills it, streaming deltas; the final text is stored again. A browser that
attaches later reads the stored history over REST.

A notebook's conversation (history, hint ladder, context) is keyed by its file
id (jupyter_server_fileid), so it follows renames and moves; the path is what
clients and messages show. Every store call is awaited (the store has its own
thread); :class:`~ltt_ext.store.StoreUnavailable` reaches the handlers (503).

This module is pure domain: no tornado. The server side is reached through a
*workspace* object (see :mod:`ltt_ext.workspace`).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from traitlets import Bool, Enum, Float, Instance, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..kernels.message import KernelMessage
from ..llm import LLMError, OpenAIProvider, Usage
from ..store import Message, Store, StoreUnavailable
from . import instructor, prompts
from .bounded import DeadlineExceeded, Streamed, stream_bounded
from .budget import TOKEN_WINDOW, Budget
from .builtin import BuiltinEngine
from .context import Cell, ErrorInfo, Execution, NotebookContext, output_text
from .policy import HintLadder, ProactiveGate
from .text import estimate_tokens

Event = dict[str, Any]
Subscriber = Callable[[Event], Any]


@runtime_checkable
class Workspace(Protocol):
    """What the tutor needs from the server (:class:`ltt_ext.workspace.ServerWorkspace`; the unit tests
    use an in-memory one). Optional extras, looked up with ``getattr``: ``file_id(path)``, ``event_logger``."""

    def normalize_path(self, path: str) -> str: ...

    async def exists(self, path: str) -> bool: ...

    async def kernel_paths(self, kernel_id: str) -> Iterable[str]: ...

    async def notebook_cells(self, path: str) -> Iterable[Cell | dict[str, Any]] | None: ...

    async def read_text(self, path: str) -> str | None: ...


def _conversation_of(msg: Message) -> str:
    """A stored message's conversation key (``Tutor._add`` sets it; the store fills it in for old rows)."""
    assert msg.file_id is not None, "the message was never stored"
    return msg.file_id


IOPUB_TYPES = ("execute_input", "stream", "execute_result", "display_data", "error", "status")


class TutorInputError(ValueError):
    """Bad input from a client (-> 400)."""


class TutorNotFound(LookupError):
    """Unknown notebook or message (-> 404)."""


class Tutor(LoggingConfigurable):
    """Follows what learners run, reacts to errors, answers questions."""

    enabled = Bool(
        True, config=True, help="Run the tutor at all (off: not attached to kernels, its API answers 503)."
    )

    # -- engine -------------------------------------------------------------------------------------
    engine = Enum(
        ["auto", "builtin", "llm"],
        "auto",
        config=True,
        help="'auto': the LLM when `model` is set, else the built-in offline engine.",
    )
    model = Unicode(
        "", config=True, help="Chat model name at the OpenAI-compatible endpoint (empty: no LLM)."
    )
    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (default: $OPENAI_BASE_URL, else OpenAI).",
    )
    api_key = Unicode(
        None,
        allow_none=True,
        config=True,
        help="API key (default: $OPENAI_API_KEY). Stays on the server.",
    )
    timeout = Float(
        60.0, config=True, help="Seconds to wait for the LLM (connection, and between streamed chunks)."
    )
    max_retries = Int(1, config=True, help="Retries of a failed LLM request (by the openai client).")
    max_tokens = Int(600, config=True, help="Max completion tokens per answer (0: the server's default).")
    temperature = Float(0.2, config=True, help="Sampling temperature.")
    concurrency = Int(4, config=True, help="Max simultaneous LLM requests for the whole server.")
    stream_usage = Bool(
        True, config=True, help="Ask for token usage in streams (stream_options.include_usage)."
    )
    llm_deadline = Float(
        90.0,
        config=True,
        help="Seconds an LLM answer may take in all (waiting for a slot, retries, streaming); then it is "
        "cancelled, its concurrency slot freed, and the built-in tutor answers instead (0: no deadline).",
    )
    max_answer_chars = Int(
        8000,
        config=True,
        help="Characters of an LLM answer kept; the stream is cut there (0: no limit; max_tokens caps it too).",
    )
    retry_after_max = Float(
        10.0,
        config=True,
        help="Longest Retry-After (seconds) of a 429 the tutor waits out, telling the learner, before retrying "
        "once; a longer one falls back to the built-in tutor at once (0: never wait).",
    )

    # -- pedagogy -----------------------------------------------------------------------------------
    allow_solutions = Bool(False, config=True, help="Allow the tutor to show corrected code when asked.")
    instructor_file = Unicode(
        "TUTOR.md",
        config=True,
        help="Instructor notes looked up beside the notebook, then in parent folders. Never sent to browsers; "
        "sections titled 'Solution'/'Answer' never leave the server.",
    )
    instructor_dir = Unicode(
        "",
        config=True,
        help="A folder OUTSIDE the server root mirroring the notebooks' folders, searched first for instructor "
        "notes (learners can open files inside the root with Jupyter itself, not these).",
    )
    context_tokens = Int(3000, config=True, help="Token budget of the notebook context in a prompt.")
    history_executions = Int(20, config=True, help="Executions remembered per notebook.")
    consent_required = Bool(
        False,
        config=True,
        help="Only send notebook content to the LLM when the request carries consent (front end asks the learner).",
    )

    # -- proactive hints ----------------------------------------------------------------------------
    proactive = Bool(True, config=True, help="Give a hint on its own when a cell raises.")
    proactive_delay = Float(
        0.0,
        config=True,
        help="0: hint as soon as a cell fails (proactive_interval keeps it to one per burst). "
        "> 0: wait until an error burst has been quiet this long and hint about its last error.",
    )
    proactive_interval = Float(
        15.0, config=True, help="At most one proactive hint per notebook per this many seconds."
    )

    # -- budget -------------------------------------------------------------------------------------
    tokens_per_hour = Int(50_000, config=True, help="LLM tokens per learner per hour (0: unlimited).")
    requests_per_minute = Int(
        10, config=True, help="LLM questions (ask/more) per learner per minute (0: unlimited)."
    )
    budget_scope = Enum(
        ["server", "user"],
        "server",
        config=True,
        help="Who a budget belongs to. 'server': one learner per server (JupyterHub, a laptop; token-authenticated "
        "requests get a fresh anonymous identity each, so per-user would be bypassable); 'user': per username, "
        "for shared servers with real identities.",
    )

    # -- plumbing -----------------------------------------------------------------------------------
    db_path = Unicode(config=True, help="SQLite file of conversations and hints (':memory:' for tests).")
    db_timeout = Float(
        5.0,
        config=True,
        help="Seconds to wait for a database locked by another process before the tutor API answers 503.",
    )
    queue_size = Int(
        10_000, config=True, help="Kernel messages buffered for the worker; the oldest are dropped."
    )

    # [Workspace | None] spelled out: mypy does not infer a trait's type from a Protocol class
    workspace = Instance[Workspace | None](Workspace, allow_none=True)

    @default("db_path")
    def _default_db_path(self):
        from jupyter_core.paths import jupyter_data_dir

        return os.path.join(jupyter_data_dir(), "ltt_ext", "tutor.sqlite")

    msg_types = [(t, "iopub") for t in IOPUB_TYPES]

    def __init__(self, workspace: Workspace | None = None, store: Store | None = None, **kwargs):
        super().__init__(workspace=workspace, **kwargs)
        self._store = store
        self.builtin = BuiltinEngine()
        self.ladder = HintLadder()
        self.gate = ProactiveGate(self.proactive_interval)
        self.budget = Budget(self.tokens_per_hour, self.requests_per_minute)
        self._background: set[asyncio.Task] = set()
        self._adopted: set[tuple[str, str]] = set()
        self._unsaved: dict[str, Message] = {}
        self._budget_lock: asyncio.Lock | None = None
        self._llm: OpenAIProvider | None = None
        self._llm_sem: asyncio.Semaphore | None = None
        self._listeners: dict[str, Callable] = {}
        self._queue: deque[tuple[str, KernelMessage]] = deque()
        self.dropped = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._pending: dict[tuple[str, str], Execution] = {}
        self._kernel_paths: dict[str, tuple[list[str], float]] = {}
        self._kernel_states: dict[str, str] = {}
        self._contexts: dict[str, NotebookContext] = {}
        self._subscribers: dict[str, list[tuple[str, Subscriber]]] = {}
        self._active: dict[str, tuple[Message, asyncio.Task]] = {}
        self._debounce: dict[str, asyncio.Task] = {}
        self._learner_of: dict[str, str] = {}
        self._stopping = False

    # ------------------------------------------------------------------------------------------------
    # configuration views
    @property
    def llm_enabled(self) -> bool:
        if self.engine == "builtin":
            return False
        return bool(self.model)

    @property
    def llm(self) -> OpenAIProvider:
        if self._llm is None:
            self._llm = OpenAIProvider(
                model=self.model,
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=self.timeout,
                max_retries=self.max_retries,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stream_usage=self.stream_usage,
                retry_after_max=self.retry_after_max,
            )
        return self._llm

    @property
    def store(self) -> Store:
        if self._store is None or self._store.closed:
            self._store = Store(self.db_path, timeout=self.db_timeout)
        return self._store

    def info(self) -> dict:
        """What the front end may know: never a key or an endpoint."""
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
        try:
            el.emit(schema_id=TUTOR_MESSAGE_URI, data=data)
        except Exception:
            self.log.debug("ltt tutor: event not emitted", exc_info=True)

    async def start(self) -> None:
        self._stopping = False
        self._register_events()
        if self.engine == "llm" and not self.model:
            self.log.warning("ltt tutor: engine='llm' but no c.Tutor.model is set; using the built-in engine")
        self.log.info(
            "ltt tutor: %s engine%s, store %s",
            "LLM" if self.llm_enabled else "built-in",
            f" ({self.model})" if self.llm_enabled else "",
            self.db_path,
        )
        try:
            n = await self.store.mark_interrupted("stopped")
        except StoreUnavailable as e:
            n = 0
            self.log.warning("ltt tutor: %s", e)
        if n:
            self.log.info("ltt tutor: closed %d answers left streaming by a previous server", n)
        self._ensure_worker()

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for _, t in self._active.values()] + list(self._debounce.values()) + list(self._background)
        if self._worker is not None:
            tasks.append(self._worker)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None
        self._queue.clear()
        if self._llm is not None:
            try:
                await self._llm.close()
            except Exception:
                pass
            self._llm = None
        if self._store is not None:
            await self._store.close()

    # ------------------------------------------------------------------------------------------------
    # kernel side: the listener only enqueues
    def listener_for(self, kernel_id: str) -> Callable[[str, list], None]:
        cb = self._listeners.get(kernel_id)
        if cb is None:

            def on_kernel_message(channel: str, parts) -> None:
                if self._stopping:
                    return
                msg = parts if isinstance(parts, KernelMessage) else KernelMessage(channel, parts)
                if len(self._queue) >= self.queue_size:
                    self._queue.popleft()
                    self.dropped += 1
                self._queue.append((kernel_id, msg))
                if self._ensure_worker():
                    assert self._wakeup is not None  # created with the worker
                    self._wakeup.set()

            cb = self._listeners[kernel_id] = on_kernel_message
        return cb

    def forget_kernel(self, kernel_id: str) -> None:
        self._listeners.pop(kernel_id, None)
        self._kernel_paths.pop(kernel_id, None)
        self._kernel_states.pop(kernel_id, None)
        for key in [k for k in self._pending if k[0] == kernel_id]:
            del self._pending[key]

    def kernel_restarted(self, kernel_id: str) -> None:
        """Executions cut short by a restart never finish: drop them (the listener stays attached)."""
        self._kernel_states.pop(kernel_id, None)
        for key in [k for k in self._pending if k[0] == kernel_id]:
            del self._pending[key]

    def kernel_died(self, kernel_id: str, restarting: bool) -> None:
        """The kernel process died (the manager restarts it, or gives up): tell its notebooks' learners."""
        self.kernel_restarted(kernel_id)
        if self._stopping:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._announce_death(kernel_id, restarting))
        except RuntimeError:
            return  # no loop (a hook called from a thread at shutdown): nothing to push to
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _announce_death(self, kernel_id: str, restarting: bool) -> None:
        text = (
            "Your kernel restarted: variables from earlier cells are gone — rerun the cells you need."
            if restarting
            else "Your kernel died: variables from earlier cells are gone — restart it and rerun the cells you need."
        )
        state = "restarting" if restarting else "dead"
        self._kernel_states[kernel_id] = state
        for path in await self._paths_for_kernel(kernel_id, fresh=True):
            ctx = self.context(path)
            ctx.kernel_state = state
            try:
                await self._notice(path, text, None)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: kernel death not recorded for %s: %s", path, e)
            self._publish_status(self._key(path))

    def _ensure_worker(self) -> bool:
        if self._worker is not None and not self._worker.done():
            return True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._stopping:
            return False
        self._wakeup = asyncio.Event()
        self._worker = asyncio.create_task(self._work(), name="ltt-tutor-worker")
        return True

    async def _work(self) -> None:
        handled = 0
        while True:
            while not self._queue:
                assert self._wakeup is not None  # created with this worker, before it started
                self._wakeup.clear()
                await self._wakeup.wait()
            handled += 1
            if handled % 200 == 0:
                await asyncio.sleep(0)  # a flood of outputs must not hold the event loop
            kernel_id, msg = self._queue.popleft()
            try:
                await self._handle(kernel_id, msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("ltt tutor: failed to handle a %s message", msg.msg_type)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued kernel message was handled (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._queue and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _handle(self, kernel_id: str, msg: KernelMessage) -> None:
        mt = msg.msg_type
        key = (kernel_id, msg.parent_header.get("msg_id") or "")
        if mt == "status":
            state = msg.content.get("execution_state")
            if state and self._kernel_states.get(kernel_id) != state:
                self._kernel_states[kernel_id] = state
                for path in self._kernel_paths.get(kernel_id, ([], 0))[0]:
                    self.context(path).kernel_state = state
                    self._publish_status(self._key(path))
            if state == "idle" and key in self._pending:
                await self._finalize(self._pending.pop(key))
            return
        if mt == "execute_input":
            content = msg.content
            self._pending[key] = Execution(
                kernel_id=kernel_id,
                msg_id=key[1],
                code=str(content.get("code", "")),
                execution_count=content.get("execution_count"),
                cell_id=msg.cell_id,
            )
            while len(self._pending) > 200:  # a kernel that died mid-run never sends idle
                self._pending.pop(next(iter(self._pending)))
            # resolve the notebooks now so status pushes reach their subscribers
            await self._paths_for_kernel(kernel_id)
            return
        ex = self._pending.get(key)
        if ex is None:
            if mt != "error":
                return
            ex = self._pending[key] = Execution(kernel_id=kernel_id, msg_id=key[1], cell_id=msg.cell_id)
        if mt == "error":
            ex.error = ErrorInfo.from_content(msg.content)
        elif ex.outputs_full:
            ex.outputs_dropped += 1
        else:
            ex.add_output(output_text(mt, msg.content))

    async def _paths_for_kernel(self, kernel_id: str, fresh: bool = False) -> list[str]:
        """The notebooks whose sessions use ``kernel_id`` (usually one), cached briefly."""
        cached = self._kernel_paths.get(kernel_id)
        if (
            cached
            and not fresh
            and (cached[0] or time.monotonic() - cached[1] < 2)
            and time.monotonic() - cached[1] < 10
        ):
            return cached[0]
        paths: list[str] = []
        if self.workspace is not None:
            try:
                paths = list(await self.workspace.kernel_paths(kernel_id))
            except Exception:
                self.log.debug("ltt tutor: no session for kernel %s", kernel_id, exc_info=True)
        self._kernel_paths[kernel_id] = (paths, time.monotonic())
        return paths

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

    async def _finalize(self, ex: Execution) -> None:
        ex.finished = time.time()
        paths = await self._paths_for_kernel(ex.kernel_id)
        if paths and self.workspace is not None and not all([await self.workspace.exists(p) for p in paths]):
            paths = await self._paths_for_kernel(ex.kernel_id, fresh=True)  # renamed or moved since cached
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
        if ex.error is None:
            return
        sig = ex.error.signature(ex.code)
        key = self._key(path)
        self.ladder.on_error(key, ex.cell_id or sig, sig)
        if self.proactive and not self._stopping:
            old = self._debounce.pop(key, None)
            if old is not None:
                old.cancel()
            self._debounce[key] = asyncio.create_task(self._proactive_after_quiet(key, ex))

    async def _proactive_after_quiet(self, key: str, ex: Execution) -> None:
        try:
            if self.proactive_delay > 0:
                await asyncio.sleep(self.proactive_delay)
        finally:
            if self._debounce.get(key) is asyncio.current_task():
                del self._debounce[key]
        if not self.gate.allow(key, time.monotonic()):
            return
        try:
            # _finalize schedules this only for a failed execution, after setting its notebook path
            assert ex.error is not None and ex.path is not None
            sig = ex.error.signature(ex.code)
            level = self.ladder.current(key, ex.cell_id or sig, sig)
            learner = self._learner_of.get(key) or self.learner_key(None)
            reply = await self._new_reply(ex.path, "hint", ex, level, learner)
            self._launch(
                reply, lambda r: self._produce_hint(r, ex, level, learner, request=None, consent=False)
            )
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

    async def _conversation(self, path: str) -> str:
        """The key of ``path``'s conversation, its rows from before file ids adopted (once per process)."""
        key = self._key(path)
        if key != path and (path, key) not in self._adopted:
            await self.store.adopt(path, key)
            self._adopted.add((path, key))
        return key

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
        if not self.instructor_file:
            return None
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

    @staticmethod
    def _checked_cell(cell_id: Any) -> str | None:
        if cell_id is None or cell_id == "":
            return None
        if not isinstance(cell_id, str) or len(cell_id) > 200:
            raise TutorInputError("'cell_id' must be a string")
        return cell_id

    def learner_key(self, username: str | None) -> str:
        return (username or "anonymous") if self.budget_scope == "user" else "server"

    async def _usage(self, learner: str) -> list[tuple[float, int, int]]:
        return await self.store.usage_since(learner, time.time() - TOKEN_WINDOW)

    async def _admit(self, learner: str) -> str | None:
        """Count one LLM request against the learner's budget, or say why it is over (None: go ahead)."""
        if not self.llm_enabled:
            return None
        if self._budget_lock is None:
            self._budget_lock = asyncio.Lock()
        async with self._budget_lock:  # check and record as one step: concurrent asks cannot both slip in
            limit = self.budget.check(await self._usage(learner), time.time())
            if not limit:
                await self.store.record_usage(learner, requests=1)
            return limit

    async def ask(
        self, path: Any, text: Any, cell_id: Any = None, user: str = "anonymous", consent: bool = False
    ) -> tuple[Message, Message]:
        path = await self._checked_path(path)
        cell_id = self._checked_cell(cell_id)
        if not isinstance(text, str) or not text.strip():
            raise TutorInputError("'text' must be a non-empty string")
        if len(text) > 20_000:
            raise TutorInputError("'text' is too long (max 20000 characters)")
        key = await self._conversation(path)
        question = await self._add(
            Message(path, "learner", "question", text=text, cell_id=cell_id, user=user)
        )
        user = self._learner_of[key] = self.learner_key(user)
        ctx = self.context(path)
        await self._refresh_cells(ctx)
        limit = await self._admit(user) if self._use_llm(consent) else None
        if limit:
            return question, await self._notice(path, limit, cell_id)
        focus = self._focus(ctx, cell_id)
        reply = await self._new_reply(path, "answer", focus, None, user, cell_id=cell_id)
        self._launch(reply, lambda r: self._produce_answer(r, text, focus, cell_id, user, consent))
        return question, reply

    async def more(
        self, path: Any, cell_id: Any = None, user: str = "anonymous", consent: bool = False
    ) -> tuple[Message, Message]:
        path = await self._checked_path(path)
        cell_id = self._checked_cell(cell_id)
        key = await self._conversation(path)
        question = await self._add(
            Message(path, "learner", "more", text="More help, please.", cell_id=cell_id, user=user)
        )
        user = self._learner_of[key] = self.learner_key(user)
        ctx = self.context(path)
        await self._refresh_cells(ctx)
        ex = ctx.last_error_for(cell_id) or await self._error_from_store(path, cell_id)
        if ex is None:
            return question, await self._notice(
                path,
                "There's no recent error to help with here. Run your code, or ask me a question.",
                cell_id,
                role="tutor",
            )
        limit = await self._admit(user) if self._use_llm(consent) else None
        if limit:
            return question, await self._notice(path, limit, cell_id)
        assert ex.error is not None  # last_error_for and _error_from_store give failed executions only
        sig = ex.error.signature(ex.code)
        previous = await self._last_hint_level(key, sig)
        level = self.ladder.climb(key, ex.cell_id or sig, sig)
        if previous:
            level = max(level, min(previous + 1, 3))
        reply = await self._new_reply(path, "hint", ex, level, user)
        self._launch(reply, lambda r: self._produce_hint(r, ex, level, user, request=None, consent=consent))
        return question, reply

    async def stop_reply(self, path: Any, msg_id: Any) -> bool:
        path = await self._checked_path(path)
        if not isinstance(msg_id, str) or not msg_id:
            raise TutorInputError("'id' must be a message id")
        entry = self._active.get(msg_id)
        if entry is None or entry[0].file_id != self._key(path):
            return False
        entry[1].cancel()
        await asyncio.wait([entry[1]])
        return True

    async def history(self, path: Any, since: float | None = None) -> list[dict]:
        path = await self._checked_path(path)
        key = await self._conversation(path)
        out = []
        for m in await self.store.history(key, since):
            live = self._active.get(m.id)
            d = (live[0] if live else self._unsaved.get(m.id, m)).to_json()
            d["path"] = path  # where the notebook is now, whatever it was called then
            out.append(d)
        return out

    async def messages(self, path: str) -> list[Message]:
        """A notebook's stored conversation (tests, tools)."""
        return await self.store.history(await self._conversation(path))

    def subscribe(self, path: str, callback: Subscriber) -> Callable[[], None]:
        """Push every event of ``path``'s conversation to ``callback`` (sync, must not block) until
        unsubscribed; messages are shown under ``path`` even if the notebook is renamed meanwhile."""
        key = self._key(path)
        entry = (path, callback)
        subs = self._subscribers.setdefault(key, [])
        subs.append(entry)

        def unsubscribe() -> None:
            if entry in subs:
                subs.remove(entry)
            if not subs and self._subscribers.get(key) is subs:
                del self._subscribers[key]

        return unsubscribe

    async def checked_path(self, path: Any) -> str:
        """Validate a notebook path the way every request does (for the websocket handler)."""
        return await self._checked_path(path)

    def status(self, path: str) -> Event:
        return self._status(self._key(path))

    def _status(self, key: str) -> Event:
        ctx = self._contexts.get(key)
        thinking = any(m.file_id == key for m, _ in self._active.values())
        return {"type": "status", "kernel_state": ctx.kernel_state if ctx else None, "thinking": thinking}

    # ------------------------------------------------------------------------------------------------
    # messages
    def _publish(self, key: str, event: Event) -> None:
        for path, cb in list(self._subscribers.get(key, ())):
            message = event.get("message")
            if message is not None and message.get("path") != path:
                event = {**event, "message": {**message, "path": path}}  # renamed since it was written
            try:
                cb(event)
            except Exception:
                self.log.debug("ltt tutor: subscriber failed", exc_info=True)

    def _publish_status(self, key: str) -> None:
        self._publish(key, self._status(key))

    async def _add(self, msg: Message) -> Message:
        if msg.file_id is None:
            msg.file_id = self._key(msg.path)
        await self.store.add(msg)
        self._publish(msg.file_id, {"type": "message", "message": msg.to_json()})
        if msg.status != "streaming":
            self._emit(msg)
        return msg

    async def _notice(self, path: str, text: str, cell_id: str | None, role: str = "system") -> Message:
        return await self._add(Message(path, role, "notice", text=text, cell_id=cell_id))

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
            model=self.model if self.llm_enabled else None,
            user=learner,
            extra=extra,
        )
        return await self._add(msg)

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

    async def _last_hint_level(self, key: str, signature: str) -> int | None:
        hint = await self.store.latest(key, kind="hint")
        if hint is not None and hint.extra.get("signature") == signature:
            return hint.level
        return None

    @staticmethod
    def _focus(ctx: NotebookContext, cell_id: str | None) -> Execution | None:
        """The error a question is most likely about: the latest execution (of that cell), if it failed."""
        for ex in reversed(ctx.executions):
            if cell_id is None or ex.cell_id == cell_id:
                return ex if ex.error is not None else None
        return None

    def _launch(self, reply: Message, produce: Callable[[Message], Any]) -> None:
        task = asyncio.create_task(self._run(reply, produce))
        self._active[reply.id] = (reply, task)
        self._publish_status(_conversation_of(reply))

    async def _run(self, reply: Message, produce) -> None:
        try:
            await produce(reply)
            reply.status = "done"
        except asyncio.CancelledError:
            reply.status = "stopped"
        except Exception:
            self.log.exception("ltt tutor: answer failed")
            reply.status = "error"
            reply.text += "\n\n_Sorry — the tutor failed to answer. Please try again._"
        finally:
            self._active.pop(reply.id, None)
            try:
                if not self.store.closed:
                    await self.store.update(reply)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: message %s not stored yet: %s", reply.id, e)
                self._save_later(reply)
            except Exception:
                self.log.exception("ltt tutor: cannot store message %s", reply.id)
            self._publish(_conversation_of(reply), {"type": "update", "message": reply.to_json()})
            self._publish_status(_conversation_of(reply))
            self._emit(reply)

    def _save_later(self, reply: Message) -> None:
        """A finished answer the store could not take (locked): keep serving it, and retry for a while
        (else history would show it streaming until the next server start)."""
        if self._stopping:
            return  # shutting down: the next start marks it stopped
        self._unsaved[reply.id] = reply

        async def retry() -> None:
            for delay in (1, 2, 5, 10, 30, 60, 120):
                await asyncio.sleep(delay)
                try:
                    await self.store.update(reply)
                    break
                except StoreUnavailable:
                    continue
            else:
                self.log.error("ltt tutor: message %s could not be stored", reply.id)
            self._unsaved.pop(reply.id, None)

        task = asyncio.create_task(retry())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------------------------------------
    # engines
    def _use_llm(self, consent: bool) -> bool:
        return self.llm_enabled and (consent or not self.consent_required)

    async def _produce_hint(self, reply: Message, ex: Execution, level: int, learner: str, request, consent):
        assert ex.error is not None  # hints are produced for failed executions only
        ctx = self._contexts.get(_conversation_of(reply)) or self.context(reply.path)
        names = ctx.names()
        if self._use_llm(consent) and not await self._over_budget_tokens(learner):
            notes = await self._notes(reply.path)
            messages = prompts.hint_messages(
                ctx.render(ex, self.context_tokens), level, self.allow_solutions, notes, request
            )
            try:
                await self._stream_llm(reply, messages, learner, notes)
                return
            except LLMError as e:
                self._fallback(reply, e.reason, self.builtin.hint(ex.error, ex.code, level, names))
                return
        self._builtin(reply, self.builtin.hint(ex.error, ex.code, level, names))

    async def _produce_answer(
        self, reply: Message, question: str, focus: Execution | None, cell_id, learner, consent
    ):
        ctx = self._contexts.get(_conversation_of(reply)) or self.context(reply.path)
        names = ctx.names()
        level = 1
        if focus is not None:
            assert focus.error is not None  # _focus gives failed executions only
            sig = focus.error.signature(focus.code)
            level = self.ladder.current(_conversation_of(reply), focus.cell_id or sig, sig)
        offline = self.builtin.answer(
            question, focus.error if focus else None, focus.code if focus else "", level, names
        )
        if self._use_llm(consent):
            notes = await self._notes(reply.path)
            cell_md = None
            if focus is None and cell_id:
                cell = next((c for c in ctx.cells if c.id == cell_id), None)
                if cell is not None:
                    cell_md = f"## The cell the learner asks about\n```python\n{cell.source}\n```\n"
            turns = [
                (m.role, m.text)
                for m in (await self.store.history(_conversation_of(reply)))[-9:-1]
                if m.role in ("learner", "tutor") and m.text and m.status == "done"
            ][-6:]
            messages = prompts.question_messages(
                question, ctx.render(focus, self.context_tokens, cell_md), self.allow_solutions, notes, turns
            )
            try:
                await self._stream_llm(reply, messages, learner, notes)
                return
            except LLMError as e:
                self._fallback(reply, e.reason, offline)
                return
        if self.llm_enabled and not consent:
            offline = "_Your notebook is only sent to the AI tutor with your consent._\n\n" + offline
        self._builtin(reply, offline)

    async def _over_budget_tokens(self, learner: str) -> bool:
        return bool(self.budget.tokens_per_hour) and self.budget.tokens_spent(
            await self._usage(learner), time.time()
        )

    def _builtin(self, reply: Message, text: str) -> None:
        reply.engine, reply.model = "builtin", None
        reply.text = text
        self._publish(_conversation_of(reply), {"type": "delta", "id": reply.id, "text": text})

    def _fallback(self, reply: Message, reason: str, text: str) -> None:
        """The LLM failed: say so, and give the offline answer instead (the question is kept)."""
        self.log.warning("ltt tutor: LLM failed (%s); using the built-in engine", reason)
        reply.engine, reply.model = "builtin", None
        reply.text = f"_The AI tutor is unavailable right now ({reason}), so here is the offline tutor's help._\n\n{text}"
        reply.extra["llm_error"] = reason

    async def _stream_llm(self, reply: Message, messages: list[dict], learner: str, notes) -> None:
        """Stream the LLM's answer into ``reply`` within ``llm_deadline`` and ``max_answer_chars``.

        Past the deadline the stream is cancelled (closing the HTTP request and freeing the
        concurrency slot) and :class:`LLMError` sends the caller to the built-in engine."""
        if self._llm_sem is None:
            self._llm_sem = asyncio.Semaphore(max(1, self.concurrency))
        reply.engine, reply.model = "llm", self.model
        got = Streamed()

        async def busy(seconds: float) -> None:
            try:
                await self._notice(
                    reply.path, f"The tutor is busy, retrying in {math.ceil(seconds)} s…", reply.cell_id
                )
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: busy notice not recorded: %s", e)

        spent = True  # stopped half-way: the tokens were spent
        try:
            await stream_bounded(
                lambda: self.llm.stream(messages, on_wait=busy),
                lambda t: self._append(reply, t),
                slots=self._llm_sem,
                deadline=self.llm_deadline,
                max_chars=self.max_answer_chars,
                got=got,
            )
        except DeadlineExceeded:
            spent = got.sent
            raise
        except LLMError:
            spent = False
            raise
        finally:
            if spent:
                await self._account(reply, messages, learner, got.usage, notes)

    def _append(self, reply: Message, text: str) -> None:
        reply.text += text
        self._publish(_conversation_of(reply), {"type": "delta", "id": reply.id, "text": text})

    async def _account(self, reply: Message, messages, learner: str, usage: Usage | None, notes) -> None:
        """Record tokens (even when stopped: they were spent) and scrub copied instructor lines."""
        if usage is None:
            usage = Usage(sum(estimate_tokens(m["content"]) for m in messages), estimate_tokens(reply.text))
        reply.prompt_tokens, reply.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        reply.text = instructor.redact_verbatim(reply.text, notes)
        tokens = usage.prompt_tokens + usage.completion_tokens
        if tokens:
            try:
                await self.store.record_usage(learner, tokens=tokens)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: tokens of %s not recorded: %s", reply.id, e)
