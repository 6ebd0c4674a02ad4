"""The execution tracker: kernel messages in, finished executions out.

The shared kernel client calls :meth:`ExecutionTracker.listener_for`'s callback
with each iopub message the tutor subscribed to; the callback only enqueues (it
runs inside the fan-out and must cost next to nothing). One worker task groups
the messages by their parent request into an :class:`Execution` and hands each
one to ``on_finished`` at its ``idle`` status; kernel state changes go to
``on_state``. Which notebooks a kernel serves (its sessions) is looked up here,
briefly cached, since both callbacks need it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from ..kernels.message import KernelMessage
from .context import ErrorInfo, Execution, output_text

IOPUB_TYPES = ("execute_input", "stream", "execute_result", "display_data", "error", "status")

OnFinished = Callable[[Execution, list[str]], Awaitable[None]]
OnState = Callable[[str, str, list[str]], None]


class RunWatch(Protocol):
    """Told when an execution starts and of each output it produces (the runaway-cell watchdog,
    :class:`ltt_ext.tutor.watchdog.Watchdog`); ``at`` is when the tracker handled the message."""

    def started(
        self,
        kernel_id: str,
        msg_id: str,
        code: str,
        cell_id: str | None,
        execution_count: int | None,
        at: float,
    ) -> object: ...

    def output(self, kernel_id: str, msg_id: str, lines: int, nbytes: int, at: float) -> None: ...


class KernelPaths(Protocol):
    async def kernel_paths(self, kernel_id: str) -> Iterable[str]: ...


class ExecutionTracker:
    """Follows every kernel the tutor is attached to (see :class:`ltt_ext.kernels.manager.KernelConsumer`)."""

    msg_types = [(t, "iopub") for t in IOPUB_TYPES]

    def __init__(
        self,
        on_finished: OnFinished,
        on_state: OnState,
        workspace: KernelPaths | None,
        queue_size: int = 10_000,
        log: logging.Logger | None = None,
    ):
        self.on_finished = on_finished
        self.on_state = on_state
        self.workspace = workspace
        self.queue_size = queue_size
        self.log = log or logging.getLogger(__name__)
        self.dropped = 0
        self.stopping = False
        self._listeners: dict[str, Callable[[str, list], None]] = {}
        self._queue: deque[tuple[str, KernelMessage]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._handling = False  # a message was taken off the queue and is being handled
        self._pending: dict[tuple[str, str], Execution] = {}
        self._kernel_paths: dict[str, tuple[list[str], float]] = {}
        self.kernel_states: dict[str, str] = {}
        self.watch: RunWatch | None = None

    # -- the listener: enqueue only -------------------------------------------------------------
    def listener_for(self, kernel_id: str) -> Callable[[str, list], None]:
        cb = self._listeners.get(kernel_id)
        if cb is None:

            def on_kernel_message(channel: str, parts) -> None:
                if self.stopping:
                    return
                msg = parts if isinstance(parts, KernelMessage) else KernelMessage(channel, parts)
                if len(self._queue) >= self.queue_size:
                    self._queue.popleft()
                    self.dropped += 1
                self._queue.append((kernel_id, msg))
                if self.ensure_worker():
                    assert self._wakeup is not None  # created with the worker
                    self._wakeup.set()

            cb = self._listeners[kernel_id] = on_kernel_message
        return cb

    def forget_kernel(self, kernel_id: str) -> None:
        self._listeners.pop(kernel_id, None)
        self._kernel_paths.pop(kernel_id, None)
        self.kernel_restarted(kernel_id)

    def kernel_restarted(self, kernel_id: str) -> None:
        """Executions cut short by a restart never finish: drop them (the listener stays attached)."""
        self.kernel_states.pop(kernel_id, None)
        for key in [k for k in self._pending if k[0] == kernel_id]:
            del self._pending[key]

    # -- the worker ------------------------------------------------------------------------------
    def ensure_worker(self) -> bool:
        if self._worker is not None and not self._worker.done():
            return True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self.stopping:
            return False
        self._wakeup = asyncio.Event()
        self._worker = asyncio.create_task(self._work(), name="ltt-tutor-tracker")
        return True

    async def stop(self) -> None:
        self.stopping = True
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._worker = None
        self._queue.clear()

    def start(self) -> None:
        self.stopping = False
        self.ensure_worker()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued kernel message was handled (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._handling) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

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
            self._handling = True
            try:
                await self._handle(kernel_id, msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("ltt tutor: failed to handle a %s message", msg.msg_type)
            finally:
                self._handling = False

    def kernels(self) -> list[str]:
        """The kernels this tracker listens to."""
        return list(self._listeners)

    async def _handle(self, kernel_id: str, msg: KernelMessage, at: float | None = None) -> None:
        mt = msg.msg_type
        key = (kernel_id, msg.parent_header.get("msg_id") or "")
        if mt == "status":
            state = msg.content.get("execution_state")
            if state and self.kernel_states.get(kernel_id) != state:
                self.kernel_states[kernel_id] = state
                self.on_state(kernel_id, state, self._kernel_paths.get(kernel_id, ([], 0))[0])
            if state == "idle" and key in self._pending:
                ex = self._pending.pop(key)
                ex.finished = time.time()
                await self.on_finished(ex, await self.paths_for_kernel(kernel_id))
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
            if self.watch is not None:
                ex = self._pending[key]
                self.watch.started(
                    kernel_id,
                    key[1],
                    ex.code,
                    ex.cell_id,
                    ex.execution_count,
                    time.monotonic() if at is None else at,
                )
            # resolve the notebooks now so status pushes reach their subscribers
            await self.paths_for_kernel(kernel_id)
            return
        pending = self._pending.get(key)
        if pending is not None and self.watch is not None:
            # counted on the raw bytes (no decoding): a newline is the two bytes of its JSON escape
            raw = msg[3] if len(msg) > 3 else b""
            lines = raw.count(b"\\n") if mt == "stream" else 1
            self.watch.output(kernel_id, key[1], lines, len(raw), time.monotonic() if at is None else at)
        if pending is None:
            if mt != "error":
                return
            pending = self._pending[key] = Execution(kernel_id=kernel_id, msg_id=key[1], cell_id=msg.cell_id)
        if mt == "error":
            pending.error = ErrorInfo.from_content(msg.content)
        elif pending.outputs_full:
            pending.outputs_dropped += 1
        else:
            pending.add_output(output_text(mt, msg.content))

    async def paths_for_kernel(self, kernel_id: str, fresh: bool = False) -> list[str]:
        """The notebooks whose sessions use ``kernel_id`` (usually one), cached briefly."""
        cached = self._kernel_paths.get(kernel_id)
        now = time.monotonic()
        if cached and not fresh and (cached[0] or now - cached[1] < 2) and now - cached[1] < 10:
            return cached[0]
        paths: list[str] = []
        if self.workspace is not None:
            try:
                paths = list(await self.workspace.kernel_paths(kernel_id))
            except Exception:
                self.log.debug("ltt tutor: no session for kernel %s", kernel_id, exc_info=True)
        self._kernel_paths[kernel_id] = (paths, time.monotonic())
        return paths
