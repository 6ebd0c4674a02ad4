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
not only at the end.
"""

from __future__ import annotations

import asyncio
import typing as t
from collections import deque

from pycrdt import Map, Text

from ..kernels.message import KernelMessage
from ..outputs import to_output

if t.TYPE_CHECKING:
    from jupyter_server_documents.rooms.ynotebook_room import YNotebookRoom

# Finds (and connects) the notebook rooms of a kernel that has none attached.
RoomResolver = t.Callable[[str], t.Awaitable[None]]


class _CellRun:
    """What the writer knows about one execution of one cell."""

    __slots__ = ("room", "ycell", "clear_pending", "display_index", "started")

    def __init__(self, room, ycell: Map):
        self.room = room
        self.ycell = ycell
        self.clear_pending = False
        self.display_index: dict[str, list[int]] = {}
        self.started = False


class KernelNotebookWriter:
    """The listener for one kernel: routes tagged messages into the right cell."""

    def __init__(self, owner: "NotebookWriter", kernel_id: str):
        self.owner = owner
        self.kernel_id = kernel_id
        self.rooms: list[YNotebookRoom] = []
        self.runs: dict[str, _CellRun | None] = {}
        self._pending: deque[KernelMessage] = deque(maxlen=100_000)
        self._resolving: asyncio.Task | None = None

    # -- listener -----------------------------------------------------------------

    def __call__(self, channel: str, msg: list) -> None:
        if not isinstance(msg, KernelMessage):
            msg = KernelMessage(channel, msg)
        if msg.cell_id is None:
            return
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
            self.owner.log.warning(
                "Dropping %d cell outputs of kernel %s: no notebook session uses it.",
                len(self._pending), self.kernel_id,
            )
            self._pending.clear()
            return
        while self._pending:
            self._apply(self._pending.popleft())

    # -- writing ------------------------------------------------------------------

    def _run_for(self, msg: KernelMessage) -> _CellRun | None:
        key = msg.parent_msg_id
        if key in self.runs:
            return self.runs[key]
        run = None
        for room in self.rooms:
            ycell = self.owner.find_cell(room, msg.cell_id)
            if ycell is not None:
                run = _CellRun(room, ycell)
                break
        if len(self.runs) > 256:  # finished runs are only looked up again by stragglers
            self.runs.pop(next(iter(self.runs)))
        self.runs[key] = run
        return run

    def _apply(self, msg: KernelMessage) -> None:
        run = self._run_for(msg)
        if run is None:
            return
        msg_type = msg.msg_type
        ycell = run.ycell
        try:
            if msg_type == "execute_input":
                with ycell.doc.transaction():
                    if not run.started:
                        del ycell["outputs"][:]
                        run.started = True
                    ycell["execution_count"] = msg.content.get("execution_count")
                    ycell["execution_state"] = "running"
            elif msg_type == "status":
                if msg.content.get("execution_state") == "idle":
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
        del run.ycell["outputs"][:]
        run.display_index.clear()
        run.clear_pending = False

    def _add_output(self, run: _CellRun, msg_type: str, content: dict) -> None:
        output = to_output(msg_type, content)
        if output is None:
            return
        youtputs = run.ycell["outputs"]
        display_id = (content.get("transient") or {}).get("display_id")
        if msg_type == "update_display_data":
            for index in run.display_index.get(display_id, []):
                if index < len(youtputs):
                    youtputs[index] = Map(output)
            return
        if run.clear_pending:
            self._clear(run)
        if output["output_type"] == "stream":
            last = youtputs[len(youtputs) - 1] if len(youtputs) else None
            text = last.get("text") if isinstance(last, Map) else None
            if (isinstance(text, Text) and last.get("output_type") == "stream"
                    and last.get("name") == output["name"]):
                text.insert(len(text), output["text"])  # extend in place; never re-assign
                return
            output["text"] = Text(output["text"])
        youtputs.append(Map(output))
        if display_id:
            run.display_index.setdefault(display_id, []).append(len(youtputs) - 1)

    def finish_all(self) -> None:
        """The kernel restarted or died: nothing in flight will finish."""
        for run in self.runs.values():
            if run is not None:
                try:
                    run.ycell["execution_state"] = "idle"
                except Exception:
                    pass
        self.runs.clear()


class NotebookWriter:
    """Kernel consumer (see ``KernelConsumer``): one :class:`KernelNotebookWriter` per kernel."""

    msg_types = [
        (msg_type, "iopub")
        for msg_type in ("execute_input", "status", "stream", "display_data",
                         "update_display_data", "execute_result", "error", "clear_output")
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

    def attach_room(self, kernel_id: str, room) -> None:
        rooms = self.listener_for(kernel_id).rooms
        if room not in rooms:
            rooms.append(room)

    def detach_room(self, kernel_id: str, room) -> None:
        writer = self._writers.get(kernel_id)
        if writer is not None and room in writer.rooms:
            writer.rooms.remove(room)
            for key, run in list(writer.runs.items()):
                if run is not None and run.room is room:
                    writer.runs[key] = None

    def rooms_of(self, kernel_id: str) -> list:
        writer = self._writers.get(kernel_id)
        return list(writer.rooms) if writer else []

    def busy_cells(self, room) -> int:
        """How many executions are in flight in ``room`` (it must not be freed meanwhile)."""
        return sum(
            1 for w in self._writers.values() for run in w.runs.values()
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
