"""The tutor's side of the runaway-cell watchdog: the periodic check, the warning, Interrupt.

:class:`RunawayCells` belongs to the :class:`~ltt_ext.tutor.service.Tutor`; it owns the
:class:`~ltt_ext.tutor.watchdog.Watchdog` the execution tracker feeds, and a check task
that only exists while some execution is running (an idle server costs nothing). A flagged
run gets one ``watchdog`` message in its notebook's conversation (stored like a hint, so it
is there with or without a browser); the conversation's ``status`` events name it while the
cell runs (``"watchdog": <message id>``), which is when the panel offers **Interrupt**.
When the cell ends, the message gets a line saying how, and the status drops it.

Interrupts go through :func:`ltt_ext.tools.interrupt.interrupt_cell` and its policy: the
learner's click is theirs to make; the watchdog's automatic one needs the course policy
(``Tutor.auto_interrupt_after``). Pure domain: no tornado.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..store import Message, StoreUnavailable
from .context import Execution
from .watchdog import Alarm, Run, Thresholds, Watchdog, ending, nudge

if TYPE_CHECKING:
    from .service import Tutor


class RunawayCells:
    def __init__(self, tutor: Tutor):
        self.tutor = tutor
        self.log = tutor.log
        self.watchdog = Watchdog(self.thresholds)
        self.watchdog.on_started = self.ensure_task
        self._task: asyncio.Task | None = None
        self.warnings = 0  # posted since start (tests, benchmarks)

    def thresholds(self) -> Thresholds:
        t = self.tutor
        return Thresholds(
            silence=t.watchdog_silence,
            lines_per_second=t.watchdog_lines_per_second,
            bytes_per_second=t.watchdog_bytes_per_second,
            flood_seconds=t.watchdog_flood_seconds,
            auto_interrupt_after=t.auto_interrupt_after,
        )

    # -- the check task ------------------------------------------------------------------------
    def ensure_task(self) -> None:
        if self._task is not None and not self._task.done():
            return
        if self.tutor._stopping or not self.tutor.watchdog:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = asyncio.create_task(self._loop(), name="ltt-tutor-watchdog")

    async def _loop(self) -> None:
        interval = max(0.05, self.tutor.watchdog_interval)
        while self.watchdog.running and not self.tutor._stopping:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("ltt tutor: watchdog check failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def check(self) -> None:
        from ..tools.interrupt import WATCHDOG, interrupt_cell  # the tool layer imports the tutor

        for alarm in self.watchdog.check():
            await self._warn(alarm)
        for run in self.watchdog.due_for_interrupt():
            km = self._kernel_manager()
            result = await interrupt_cell(
                km,
                run.kernel_id,
                caller=WATCHDOG,
                course_policy=self.tutor.auto_interrupt_after > 0,
                log=self.log,
            )
            if not result.interrupted:
                run.interrupted_by = None if result.refused else run.interrupted_by
                self.log.info("ltt tutor: watchdog could not interrupt %s: %s", run.kernel_id, result.reason)

    async def _warn(self, alarm: Alarm) -> None:
        run = alarm.run
        tutor = self.tutor
        paths = await tutor.tracker.paths_for_kernel(run.kernel_id)
        if not paths:
            return  # a console or a kernel without a notebook: nobody to tell
        ex = Execution(kernel_id=run.kernel_id, msg_id=run.msg_id, code=run.code, cell_id=run.cell_id)
        ctx = await tutor._notebook_of(ex, paths)
        key = tutor._key(ctx.path)
        text = nudge(alarm, interrupt=tutor.interrupt_button, auto_after=tutor.auto_interrupt_after)
        msg = Message(
            ctx.path,
            "tutor",
            "watchdog",
            text=text,
            cell_id=run.cell_id,
            kernel_id=run.kernel_id,
            level=1,
            engine="builtin",
            extra={"watchdog": alarm.kind, "msg_id": run.msg_id, "code": run.code[:20_000]},
        )
        try:
            await tutor.conversations.add(msg)
        except StoreUnavailable as e:
            self.log.warning("ltt tutor: runaway warning not stored: %s", e)
            return
        run.path, run.key, run.message_id = ctx.path, key, msg.id
        self.warnings += 1
        if (run.kernel_id, run.msg_id) not in self.watchdog.runs:
            self._ended(run, "finished")  # it ended while the warning was being stored
            return
        tutor._publish_status(key)

    # -- a run ends ----------------------------------------------------------------------------
    def finished(self, kernel_id: str, msg_id: str) -> None:
        run = self.watchdog.finished(kernel_id, msg_id)
        if run is not None and run.message_id is not None:
            self._ended(run, "finished")

    def kernel_gone(self, kernel_id: str) -> None:
        for run in self.watchdog.forget_kernel(kernel_id):
            if run.message_id is not None:
                self._ended(run, "restarted")

    def _ended(self, run: Run, how: str) -> None:
        elapsed = self.watchdog.clock() - run.started
        tutor = self.tutor
        if run.key is not None:
            tutor._publish_status(run.key)  # the panel stops offering Interrupt at once
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if tutor._stopping:
            return
        tutor.conversations.background(self._update(run, ending(run, elapsed, how)))

    async def _update(self, run: Run, line: str) -> None:
        store = self.tutor.store
        if run.message_id is None:
            return
        try:
            msg = await store.get(run.message_id)
        except StoreUnavailable as e:
            self.log.warning("ltt tutor: runaway warning not updated: %s", e)
            return
        if msg is None:
            return
        msg.text += line
        msg.updated = time.time()
        msg.extra["ended"] = True
        try:
            await store.update(msg)
        except StoreUnavailable as e:
            self.log.warning("ltt tutor: runaway warning not updated: %s", e)
            return
        if run.key is not None:
            self.tutor.conversations.publish(run.key, {"type": "update", "message": msg.to_json()})

    # -- what the panel sees -------------------------------------------------------------------
    def active_message(self, key: str) -> str | None:
        """The warning that offers Interrupt in a conversation now, if any."""
        if not self.tutor.interrupt_button:
            return None
        run = self.watchdog.flagged_in(key)
        return run.message_id if run is not None else None

    # -- Interrupt -----------------------------------------------------------------------------
    def _kernel_manager(self):
        return getattr(getattr(self.tutor.workspace, "serverapp", None), "kernel_manager", None)

    async def kernel_of(self, path: str, key: str) -> str | None:
        run = self.watchdog.flagged_in(key)
        if run is not None:
            return run.kernel_id
        tracker = self.tutor.tracker
        for kernel_id in tracker.kernels():
            if path in await tracker.paths_for_kernel(kernel_id):
                return kernel_id
        ctx = self.tutor._contexts.get(key)
        return ctx.kernel_id if ctx is not None else None

    async def interrupt(self, path: str, key: str) -> dict[str, Any]:
        """The learner's Interrupt: stop what runs in the notebook's kernel now."""
        from ..tools.interrupt import LEARNER, interrupt_cell

        kernel_id = await self.kernel_of(path, key)
        result = await interrupt_cell(self._kernel_manager(), kernel_id, caller=LEARNER, log=self.log)
        if result.interrupted and kernel_id is not None:
            run = self.watchdog.of_kernel(kernel_id)
            if run is not None and run.interrupted_by is None:
                run.interrupted_by = "learner"
        return result.to_json()
