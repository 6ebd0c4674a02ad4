"""The runaway-cell watchdog: a cell that runs silently for too long, or floods its output.

Plain Python and clock-injected (unit-testable without a kernel). The
:class:`~ltt_ext.tutor.tracker.ExecutionTracker` reports each execution's start
(``execute_input``) and every output it produces (:meth:`Watchdog.started`,
:meth:`Watchdog.output`: O(1) each, counts only); the tutor service runs a
periodic :meth:`Watchdog.check` while something runs and ends a run when its
execution reaches idle (:meth:`Watchdog.finished`).

A run is flagged **once** (one warning per execution, never repeated): as *silent*
when it produced no output for ``silence`` seconds, as a *flood* when its output
rate stayed above ``lines_per_second`` or ``bytes_per_second`` for
``flood_seconds``. A flagged run is due for an automatic interrupt when the course
policy ``auto_interrupt_after`` (seconds since the cell started; 0: never) says so.

What the warning says about the code comes from :func:`analyze` (``ast`` only, the
learner's code is never run): the loop that is likely to blame, at hint level 1 —
where to look, not the fix.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .loops import Finding, analyze

SILENT, FLOOD = "silent", "flood"
MAX_RUNS = 500  # executions followed at once (a kernel that died mid-run never sends idle)
MIN_WINDOW = 0.5  # seconds of output needed to measure a rate


@dataclass
class Thresholds:
    silence: float = 30.0  # seconds without output (0: never warn)
    lines_per_second: float = 2000.0  # output lines per second counted as a flood (0: ignore)
    bytes_per_second: float = 1_000_000.0  # output bytes per second counted as a flood (0: ignore)
    flood_seconds: float = 3.0  # how long a flood must last before the tutor says so
    auto_interrupt_after: float = 0.0  # course policy: interrupt a flagged run this long after it started


@dataclass
class Run:
    """One execution in flight, as the watchdog sees it."""

    kernel_id: str
    msg_id: str
    code: str
    cell_id: str | None
    execution_count: int | None
    started: float
    last_output: float
    lines: int = 0
    bytes: int = 0
    window_start: float = 0.0
    window_lines: int = 0
    window_bytes: int = 0
    flood_since: float | None = None
    lines_rate: float = 0.0  # the last measured rates
    bytes_rate: float = 0.0
    warning: str | None = None  # SILENT | FLOOD once flagged
    warned_at: float | None = None
    # set by the service once the warning is posted
    path: str | None = None
    key: str | None = None
    message_id: str | None = None
    interrupted_by: str | None = None  # "learner" | "watchdog"
    finding: Finding | None = None
    _analyzed: bool = field(default=False, repr=False)

    @property
    def flagged(self) -> bool:
        return self.warning is not None

    def analysis(self) -> Finding | None:
        if not self._analyzed:
            self.finding, self._analyzed = analyze(self.code), True
        return self.finding


@dataclass
class Alarm:
    run: Run
    kind: str  # SILENT | FLOOD
    elapsed: float  # seconds since the cell started


class Watchdog:
    def __init__(
        self,
        thresholds: Callable[[], Thresholds] | Thresholds | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if thresholds is None:
            thresholds = Thresholds()
        self._thresholds = thresholds if callable(thresholds) else (lambda: thresholds)
        self.clock = clock
        self.runs: OrderedDict[tuple[str, str], Run] = OrderedDict()
        self.on_started: Callable[[], None] = lambda: None

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds()

    @property
    def running(self) -> bool:
        return bool(self.runs)

    # -- fed by the tracker (O(1) each) -------------------------------------------------------
    def started(
        self,
        kernel_id: str,
        msg_id: str,
        code: str = "",
        cell_id: str | None = None,
        execution_count: int | None = None,
        at: float | None = None,
    ) -> Run:
        now = self.clock() if at is None else at
        run = Run(kernel_id, msg_id, code, cell_id, execution_count, now, now, window_start=now)
        # a kernel runs one cell at a time: an earlier run of it that never saw idle is over
        for key in [k for k, r in self.runs.items() if r.kernel_id == kernel_id]:
            del self.runs[key]
        self.runs[(kernel_id, msg_id)] = run
        while len(self.runs) > MAX_RUNS:
            self.runs.popitem(last=False)
        self.on_started()
        return run

    def output(
        self, kernel_id: str, msg_id: str, lines: int = 1, nbytes: int = 0, at: float | None = None
    ) -> None:
        run = self.runs.get((kernel_id, msg_id))
        if run is None:
            return
        run.last_output = self.clock() if at is None else at
        run.lines += lines
        run.bytes += nbytes
        run.window_lines += lines
        run.window_bytes += nbytes

    def finished(self, kernel_id: str, msg_id: str) -> Run | None:
        return self.runs.pop((kernel_id, msg_id), None)

    def forget_kernel(self, kernel_id: str) -> list[Run]:
        """The kernel restarted, died or is gone: its runs end unfinished."""
        gone = [k for k, r in self.runs.items() if r.kernel_id == kernel_id]
        return [self.runs.pop(k) for k in gone]

    # -- queries -------------------------------------------------------------------------------
    def of_kernel(self, kernel_id: str) -> Run | None:
        for run in reversed(self.runs.values()):
            if run.kernel_id == kernel_id:
                return run
        return None

    def flagged_in(self, key: str) -> Run | None:
        """The flagged run still going in a conversation (its warning offers Interrupt)."""
        for run in reversed(self.runs.values()):
            if run.key == key and run.message_id is not None:
                return run
        return None

    # -- the periodic check --------------------------------------------------------------------
    def check(self, now: float | None = None) -> list[Alarm]:
        """New warnings: each run is flagged at most once."""
        now = self.clock() if now is None else now
        t = self.thresholds
        alarms: list[Alarm] = []
        for run in list(self.runs.values()):
            span = now - run.window_start
            if span >= MIN_WINDOW:
                run.lines_rate = run.window_lines / span
                run.bytes_rate = run.window_bytes / span
                flooding = (t.lines_per_second > 0 and run.lines_rate >= t.lines_per_second) or (
                    t.bytes_per_second > 0 and run.bytes_rate >= t.bytes_per_second
                )
                if not flooding:
                    run.flood_since = None
                elif run.flood_since is None:
                    run.flood_since = run.window_start
                run.window_start, run.window_lines, run.window_bytes = now, 0, 0
            if run.flagged:
                continue
            kind = None
            if run.flood_since is not None and now - run.flood_since >= t.flood_seconds:
                kind = FLOOD
            elif t.silence > 0 and now - run.last_output >= t.silence:
                finding = run.analysis()
                if finding is None or not finding.waits_for_input:
                    kind = SILENT
            if kind is not None:
                run.warning, run.warned_at = kind, now
                alarms.append(Alarm(run, kind, now - run.started))
        return alarms

    def due_for_interrupt(self, now: float | None = None) -> list[Run]:
        """Flagged runs the course policy says to stop now (each returned once)."""
        now = self.clock() if now is None else now
        after = self.thresholds.auto_interrupt_after
        if after <= 0:
            return []
        due = []
        for run in self.runs.values():
            if run.flagged and run.interrupted_by is None and now - run.started >= after:
                run.interrupted_by = "watchdog"
                due.append(run)
        return due


def _seconds(s: float) -> str:
    s = int(round(s))
    if s < 90:
        return f"{s} s"
    return f"{s // 60} min {s % 60:02d} s"


def _cell_name(run: Run) -> str:
    return f"Cell [{run.execution_count}]" if run.execution_count else "Your cell"


def _where(f: Finding) -> str:
    at = f" on line {f.line}" if f.line else ""
    header = f" (`{f.header}`)" if f.header and "`" not in f.header else ""
    return at + header


def nudge(alarm: Alarm, interrupt: bool = True, auto_after: float = 0.0) -> str:
    """The level-1 message of a flagged run: what is happening, where to look — never the fix."""
    run = alarm.run
    if alarm.kind == FLOOD:
        rate = (
            f"about {int(run.lines_rate):,} lines per second"
            if run.lines_rate >= 1
            else f"about {int(run.bytes_rate):,} bytes per second"
        )
        first = (
            f"{_cell_name(run)} is flooding its output ({rate}, for {_seconds(now_span(alarm))} now): "
            "the notebook slows down and the output is too long to read."
        )
    else:
        first = f"{_cell_name(run)} has been running for {_seconds(alarm.elapsed)} without any output."
    f = run.analysis()
    if f is None:
        look = (
            "If you didn't expect it to take this long, something in it may be repeating forever, "
            "or working on much more data than you think."
        )
    elif f.reason == "no-break":
        look = f"Look at the loop{_where(f)}: what inside it would ever make it stop?"
    elif f.reason == "unchanged":
        names = ", ".join(f"`{n}`" for n in f.names)
        look = (
            f"Look at the `while` loop{_where(f)}: its condition uses {names}. "
            f"Does anything inside the loop change {'it' if len(f.names) == 1 else 'them'}?"
        )
    elif f.reason == "break":
        look = f"Look at the loop{_where(f)}: is the line that should end it ever reached?"
    elif f.reason == "condition":
        look = f"Look at the `while` loop{_where(f)}: will its condition ever become false?"
    elif f.reason == "endless-for":
        look = f"Look at the `for` loop{_where(f)}: what it loops over never runs out."
    elif f.reason == "sleep":
        look = f"It may simply be waiting: there is a `sleep`{_where(f)}."
    else:
        look = "Something in it takes a long time."
    end = []
    if interrupt:
        end.append("If it doesn't stop by itself, press **Interrupt** here (or ■ in the notebook's toolbar).")
    else:
        end.append("If it doesn't stop by itself, press ■ in the notebook's toolbar to interrupt it.")
    if auto_after > 0:
        end.append(f"The course stops runaway cells after {_seconds(auto_after)}.")
    return f"{first}\n\n{look}\n\n{' '.join(end)}"


def now_span(alarm: Alarm) -> float:
    run = alarm.run
    if run.flood_since is None or run.warned_at is None:
        return alarm.elapsed
    return run.warned_at - run.flood_since


def ending(run: Run, elapsed: float, how: str) -> str:
    """The line added to a warning when its cell ends (``how``: finished/interrupted/restarted)."""
    if how == "restarted":
        return f"\n\n_Update: the kernel stopped after {_seconds(elapsed)} (it restarted or died)._"
    if run.interrupted_by == "learner":
        return f"\n\n_Update: you interrupted the cell after {_seconds(elapsed)}._"
    if run.interrupted_by == "watchdog":
        return f"\n\n_Update: the tutor interrupted the cell after {_seconds(elapsed)}, as the course asks._"
    return f"\n\n_Update: the cell finished after {_seconds(elapsed)}._"
