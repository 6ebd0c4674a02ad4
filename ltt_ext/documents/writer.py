"""Every notebook-cell execution lands in the notebook's server YDoc, exactly once.

jupyter-server-documents records only the executions its room runs. Here one
listener per kernel records every execution whose request names a cell
(``shell:<id>#<cell_id>``): the room's own REST executions (our room class
sends them through the shared client, tagged), ``execute_request``s from any
websocket client that sets ``metadata.cellId``, and server-side executions run
for a cell. Untagged executions (consoles, the tutor's tools) are not cell
outputs and are left alone. One writer, so nothing is written twice.

Outputs are stored as JupyterLab stores them: one ``Map`` per output, stream
text as a ``Text`` that consecutive chunks of the same stream extend (the stock
front end calls ``.get`` on them; plain dicts made it throw once per chunk).
The count and the running state are written when the kernel starts the cell,
not only at the end. Display ids are notebook-wide, as nbclient and JupyterLab
track them: ``h.update(...)`` in a later cell (or a new display with the same
id) rewrites every output showing that id, wherever it is.
"""

from __future__ import annotations

import asyncio
import typing as t
from collections import deque

from pycrdt import Map, Text

from ..kernels.message import KernelMessage
from ..outputs import to_output
from .external import ExternalCell, file_id_of, outputs_manager_of, too_large
from .outputs import is_placeholder

if t.TYPE_CHECKING:
    from jupyter_server_documents.rooms.ynotebook_room import YNotebookRoom

# Finds (and connects) the notebook rooms of a kernel that has none attached.
RoomResolver = t.Callable[[str], t.Awaitable[None]]


class _CellRun:
    """What the writer knows about one execution of one cell."""

    __slots__ = ("room", "ycell", "cell_id", "clear_pending", "started", "execution_count", "external")

    def __init__(self, room, ycell: Map, cell_id: str):
        self.room = room
        self.ycell = ycell
        self.cell_id = cell_id
        self.clear_pending = False
        self.started = False
        self.execution_count: int | None = None
        self.external: ExternalCell | None = None  # its outputs were moved out of the YDoc


class _DisplayTarget(t.NamedTuple):
    """One output showing a display id: its cell, and its index in the cell's outputs."""

    room: t.Any
    cell_id: str
    ycell: Map
    output_index: int  # not `index`: that would shadow tuple.index


class DisplayIndex:
    """display id -> the outputs showing it, across every cell of the kernel's notebooks.

    nbclient's ``_display_id_map``. Indices stay valid because this writer is the one
    that appends to and clears a cell's outputs, and it forgets a cell's entries whenever
    it clears that cell.
    """

    MAX_IDS = 10_000  # the oldest ids go first; updates to them are then dropped

    def __init__(self) -> None:
        self._targets: dict[str, list[_DisplayTarget]] = {}

    def add(self, display_id: str, target: _DisplayTarget) -> None:
        if display_id not in self._targets and len(self._targets) >= self.MAX_IDS:
            self._targets.pop(next(iter(self._targets)))
        self._targets.setdefault(display_id, []).append(target)

    def targets(self, display_id: str) -> list[_DisplayTarget]:
        return self._targets.get(display_id, [])

    def forget_cell(self, room, cell_id: str) -> None:
        self._keep(lambda tg: not (tg.room is room and tg.cell_id == cell_id))

    def forget_room(self, room) -> None:
        self._keep(lambda tg: tg.room is not room)

    def clear(self) -> None:
        self._targets.clear()

    def _keep(self, keep: t.Callable[[_DisplayTarget], bool]) -> None:
        for display_id in list(self._targets):
            kept = [tg for tg in self._targets[display_id] if keep(tg)]
            if kept:
                self._targets[display_id] = kept
            else:
                del self._targets[display_id]


class KernelNotebookWriter:
    """The listener for one kernel: routes tagged messages into the right cell."""

    def __init__(self, owner: NotebookWriter, kernel_id: str):
        self.owner = owner
        self.kernel_id = kernel_id
        self.rooms: list[YNotebookRoom] = []
        self.runs: dict[str, _CellRun | None] = {}
        self.displays = DisplayIndex()
        self._pending: deque[KernelMessage] = deque(maxlen=100_000)
        self._resolving: asyncio.Task | None = None
        self._roomless: dict[str, None] = {}  # runs whose kernel had no notebook (ordered set)

    # -- listener -----------------------------------------------------------------

    def __call__(self, channel: str, msg: list) -> None:
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if msg.cell_id is None:
            # A display update from outside any cell (a console, a thread) still updates the
            # notebook's outputs showing that display id; other untagged output is not a cell's.
            if msg.msg_type != "update_display_data" or not self.rooms:
                return
        if not self.rooms and msg.parent_msg_id in self._roomless:
            return  # a run already known to belong to no notebook (a console's)
        if self._pending or not self.rooms:
            # No room yet (freed while idle, or never opened): keep order, fetch it. Until the
            # backlog is written, newer messages queue behind it: the room is attached before
            # its connection finishes, and a stream applied before its execute_input was wiped.
            self._pending.append(msg)
            if self._resolving is None or self._resolving.done():
                self._resolving = asyncio.ensure_future(self._resolve())
            return
        self._apply(msg)

    async def _resolve(self) -> None:
        try:
            await self.owner.resolve_rooms(self.kernel_id)
        except Exception:
            self.owner.log.exception("Could not find the notebook of kernel %s", self.kernel_id)
        if not self.rooms:
            # A console (its runs carry cell ids too) or a kernel no notebook uses: not an error.
            self.owner.log.debug(
                "No notebook session uses kernel %s: %d outputs are not a notebook's.",
                self.kernel_id,
                len(self._pending),
            )
            for msg in self._pending:
                self._roomless[msg.parent_msg_id] = None
            while len(self._roomless) > 256:
                self._roomless.pop(next(iter(self._roomless)))
            self._pending.clear()
            return
        while self._pending:
            self._apply(self._pending.popleft())

    # -- writing ------------------------------------------------------------------

    def _run_for(self, msg: KernelMessage) -> _CellRun | None:
        key = msg.parent_msg_id
        if key in self.runs:
            return self.runs[key]
        cell_id = msg.cell_id
        if cell_id is None:  # untagged messages reach _apply only as display updates, handled there
            return None
        run = None
        for room in self.rooms:
            ycell = self.owner.find_cell(room, cell_id)
            if ycell is not None:
                run = _CellRun(room, ycell, cell_id)
                break
        if len(self.runs) > 256:  # finished runs are only looked up again by stragglers
            self.runs.pop(next(iter(self.runs)))
        self.runs[key] = run
        return run

    def _apply(self, msg: KernelMessage) -> None:
        msg_type = msg.msg_type
        if msg_type == "update_display_data":
            # Not tied to the run it came from: that run may be over (an update from a thread).
            display_id = (msg.content.get("transient") or {}).get("display_id")
            output = to_output(msg_type, msg.content)
            if display_id and output is not None:
                self._update_displays(display_id, output)
            return
        run = self._run_for(msg)
        if run is None:
            return
        ycell = run.ycell
        try:
            if msg_type == "execute_input":
                with ycell.doc.transaction():
                    if not run.started:
                        self._clear(run)
                        run.started = True
                    # The count is written when the run ends, with its idle state: JupyterLab marks a
                    # cell idle (prompt [n] instead of [*]) as soon as its count changes.
                    run.execution_count = msg.content.get("execution_count")
                    ycell["execution_state"] = "running"
            elif msg_type == "status":
                if msg.content.get("execution_state") == "idle":
                    with ycell.doc.transaction():
                        if run.external is not None:
                            run.external.finish()
                        if run.started:
                            ycell["execution_count"] = run.execution_count
                        ycell["execution_state"] = "idle"
                    self.runs[msg.parent_msg_id] = None  # done: late messages are dropped
            elif msg_type == "clear_output":
                if msg.content.get("wait"):
                    run.clear_pending = True
                else:
                    self._clear(run)
            else:
                self._add_output(run, msg_type, msg.content)
        except Exception:
            self.owner.log.exception("Could not record %s in cell %s", msg_type, msg.cell_id)

    def _clear(self, run: _CellRun) -> None:
        youtputs = run.ycell["outputs"]
        if run.external is not None:
            run.external.clear()
            run.external = None
        elif any(is_placeholder(o) for o in youtputs):  # moved out when the notebook was opened
            om = outputs_manager_of(run.room)
            if om is not None:
                om.clear(file_id_of(run.room), run.cell_id)
        del youtputs[:]
        self.displays.forget_cell(run.room, run.cell_id)
        run.clear_pending = False

    def _update_displays(self, display_id: str, output: dict) -> None:
        """Rewrite every output showing ``display_id`` (nbclient: data and metadata only)."""
        for target in self.displays.targets(display_id):
            try:
                youtputs = target.ycell["outputs"]
                if target.output_index >= len(youtputs):
                    continue
                old = youtputs[target.output_index]
                if not isinstance(old, Map) or old.get("output_type") not in (
                    "display_data",
                    "execute_result",
                ):
                    continue
                if is_placeholder(old):
                    self._update_external(target, output)
                    continue
                old_output = old.to_py()
                assert old_output is not None  # read from the document: an integrated map
                new = {**old_output, "data": output["data"], "metadata": output["metadata"]}
                youtputs[target.output_index] = Map(new)  # replaced, as JupyterLab's model replaces it
            except Exception:  # the cell was deleted meanwhile
                self.owner.log.debug("Display %s: output gone in cell %s", display_id, target.cell_id)

    def _update_external(self, target: _DisplayTarget, output: dict) -> None:
        for run in self.runs.values():
            if run is not None and run.ycell is target.ycell and run.external is not None:
                run.external.update(target.output_index, output)
                return

    def _add_output(self, run: _CellRun, msg_type: str, content: dict) -> None:
        output = to_output(msg_type, content)
        if output is None:
            return
        youtputs = run.ycell["outputs"]
        display_id = (content.get("transient") or {}).get("display_id")
        if run.clear_pending:
            self._clear(run)
        if display_id:
            self._update_displays(display_id, output)
        if run.external is None:
            om = outputs_manager_of(run.room)
            if om is not None and too_large(om, run.ycell, output):
                run.external = ExternalCell.move(om, run.room, run.ycell, run.cell_id, output)
                if display_id:
                    self.displays.add(display_id, self._target(run, len(youtputs) - 1))
                return
        else:
            run.external.add(output)
            if display_id:
                self.displays.add(display_id, self._target(run, len(youtputs) - 1))
            return
        if output["output_type"] == "stream":
            last = youtputs[len(youtputs) - 1] if len(youtputs) else None
            text = last.get("text") if isinstance(last, Map) else None
            if (
                isinstance(last, Map)
                and isinstance(text, Text)
                and last.get("output_type") == "stream"
                and last.get("name") == output["name"]
            ):
                text.insert(len(text), output["text"])  # extend in place; never re-assign
                return
            output["text"] = Text(output["text"])
        youtputs.append(Map(output))
        if display_id:
            self.displays.add(display_id, self._target(run, len(youtputs) - 1))

    @staticmethod
    def _target(run: _CellRun, index: int) -> _DisplayTarget:
        return _DisplayTarget(run.room, run.cell_id, run.ycell, index)

    def finish_all(self) -> None:
        """The kernel restarted or died: nothing in flight will finish."""
        for run in self.runs.values():
            if run is not None:
                try:
                    if run.external is not None:
                        run.external.finish()
                    if run.started:
                        run.ycell["execution_count"] = run.execution_count
                    run.ycell["execution_state"] = "idle"
                except Exception:
                    pass
        self.runs.clear()
        self.displays.clear()  # a new kernel process never updates the old one's displays


class NotebookWriter:
    """Kernel consumer (see ``KernelConsumer``): one :class:`KernelNotebookWriter` per kernel."""

    msg_types = [
        (msg_type, "iopub")
        for msg_type in (
            "execute_input",
            "status",
            "stream",
            "display_data",
            "update_display_data",
            "execute_result",
            "error",
            "clear_output",
        )
    ]

    def __init__(self, log, resolver: RoomResolver | None = None):
        self.log = log
        self.resolver = resolver
        self._writers: dict[str, KernelNotebookWriter] = {}

    def listener_for(self, kernel_id: str) -> KernelNotebookWriter:
        writer = self._writers.get(kernel_id)
        if writer is None:
            writer = self._writers[kernel_id] = KernelNotebookWriter(self, kernel_id)
        return writer

    def forget_kernel(self, kernel_id: str) -> None:
        writer = self._writers.pop(kernel_id, None)
        if writer is not None:
            writer.finish_all()

    def kernel_restarted(self, kernel_id: str) -> None:
        writer = self._writers.get(kernel_id)
        if writer is not None:
            writer.finish_all()

    def kernel_died(self, kernel_id: str, restarting: bool) -> None:
        # The cell that was running will never get its idle status: it stops running now.
        self.kernel_restarted(kernel_id)

    def attach_room(self, kernel_id: str, room) -> None:
        rooms = self.listener_for(kernel_id).rooms
        if room not in rooms:
            rooms.append(room)

    def detach_room(self, kernel_id: str, room) -> None:
        writer = self._writers.get(kernel_id)
        if writer is not None and room in writer.rooms:
            writer.rooms.remove(room)
            writer.displays.forget_room(room)
            for key, run in list(writer.runs.items()):
                if run is not None and run.room is room:
                    writer.runs[key] = None

    def rooms_of(self, kernel_id: str) -> list:
        writer = self._writers.get(kernel_id)
        return list(writer.rooms) if writer else []

    def busy_cells(self, room) -> int:
        """How many executions are in flight in ``room`` (it must not be freed meanwhile)."""
        return sum(
            1
            for w in self._writers.values()
            for run in w.runs.values()
            if run is not None and run.room is room
        )

    async def resolve_rooms(self, kernel_id: str) -> None:
        if self.resolver is not None:
            await self.resolver(kernel_id)

    @staticmethod
    def find_cell(room, cell_id: str) -> Map | None:
        ydoc = getattr(room, "_jupyter_ydoc", None)
        if ydoc is None:
            return None
        for ycell in ydoc.ycells:
            if ycell.get("id") == cell_id:
                return ycell if ycell.get("cell_type") == "code" else None
        return None
