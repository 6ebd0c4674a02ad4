"""The notebook writer's side of large outputs: one running cell whose outputs live outside the YDoc.

See :mod:`.outputs` for why and where they live. While the cell runs, its outputs
are a list in the outputs manager, served to browsers (and to saves) from memory; the
YDoc holds one small placeholder per output. A stream that keeps growing has its
placeholder renewed (browsers fetch an output again when its placeholder changes) at
most every ``flush_interval`` seconds — and less often as it grows, so that a browser
refetches at most about :data:`REFETCH_BYTES` per interval whatever the stream's size.
The outputs are written to disk when the run ends: rewriting a 100 MB stream every
second would cost the server more than the whole flood.
"""

from __future__ import annotations

import asyncio
import time
import typing as t

from pycrdt import Map

from .outputs import LargeOutputsManager, output_size

REFETCH_BYTES = 4 * 1024 * 1024  # per flush_interval: a growing stream's refresh slows down past this


def outputs_manager_of(room) -> LargeOutputsManager | None:
    """The room's large-outputs manager, if it has one and it is on."""
    om = getattr(room, "outputs_manager", None)
    return om if isinstance(om, LargeOutputsManager) and om.enabled else None


def file_id_of(room) -> str:
    return room.room_id.split(":", 2)[2]


class ExternalCell:
    """A cell of a run in progress whose outputs were moved out of the YDoc."""

    def __init__(self, om: LargeOutputsManager, room, ycell: Map, cell_id: str):
        self.om = om
        self.file_id = file_id_of(room)
        self.ycell = ycell
        self.cell_id = cell_id
        self.version = 0
        # Chunks the last output (a stream) grew by since it was last written: joined at the
        # refresh (appending to a growing string per message would copy it every time).
        self._chunks: list[str] = []
        self._size = 0  # characters of the growing stream, chunks included
        self._last_refresh = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def move(cls, om, room, ycell: Map, cell_id: str, new_output: dict[str, t.Any]) -> ExternalCell:
        """Move the cell's outputs so far, plus ``new_output``, out of the YDoc."""
        cell = cls(om, room, ycell, cell_id)
        youtputs = ycell["outputs"]
        outputs: list[dict[str, t.Any]] = [
            (o.to_py() or {}) if isinstance(o, Map) else dict(o) for o in youtputs
        ]
        _merge(outputs, new_output)
        om.store(cell.file_id, cell_id, outputs, live=True)
        with ycell.doc.transaction():
            del youtputs[:]
            for index, output in enumerate(outputs):
                youtputs.append(Map(om.placeholder(output, om.url(cell.file_id, cell_id, index))))
        return cell

    @property
    def outputs(self) -> list[dict[str, t.Any]]:
        live = self.om.live_outputs(self.file_id, self.cell_id)
        if live is None:  # cleared meanwhile (a new run, clear_output): start again
            live = []
            self.om.store(self.file_id, self.cell_id, live, live=True)
        return live

    @property
    def dirty(self) -> bool:
        return bool(self._chunks)

    def add(self, output: dict[str, t.Any]) -> None:
        outputs = self.outputs
        last = outputs[-1] if outputs else None
        if _same_stream(last, output):
            if not self._chunks:
                self._size = len(last.get("text") or "")  # type: ignore[union-attr]
            self._chunks.append(output["text"])
            self._size += len(output["text"])
            self._refresh_soon()
            return
        self.refresh()  # the growing stream before it is final
        outputs.append(output)
        index = len(outputs) - 1
        self.om.write_one(self.file_id, self.cell_id, index, output)
        self.ycell["outputs"].append(
            Map(self.om.placeholder(output, self.om.url(self.file_id, self.cell_id, index)))
        )

    def update(self, index: int, output: dict[str, t.Any]) -> None:
        """A display update of the output at ``index``."""
        outputs = self.outputs
        if 0 <= index < len(outputs):
            outputs[index] = {**outputs[index], "data": output["data"], "metadata": output["metadata"]}
            self._renew(index)

    def _refresh_soon(self) -> None:
        interval = self.om.flush_interval * max(1.0, self._size / REFETCH_BYTES)
        wait = interval - (time.monotonic() - self._last_refresh)
        if wait <= 0:
            self.refresh()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self.refresh)

    def refresh(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._chunks:
            return
        outputs = self.outputs
        last = outputs[-1]
        last["text"] = "".join([last.get("text") or "", *self._chunks])
        self._chunks.clear()
        self._last_refresh = time.monotonic()
        self._renew(len(outputs) - 1)

    def _renew(self, index: int) -> None:
        """A new placeholder URL for output ``index``: browsers fetch it again (from memory)."""
        outputs = self.outputs
        if not 0 <= index < len(outputs):
            return
        self.version += 1
        youtputs = self.ycell["outputs"]
        if index < len(youtputs):
            url = self.om.url(self.file_id, self.cell_id, index, self.version)
            youtputs[index] = Map(self.om.placeholder(outputs[index], url))

    def finish(self) -> None:
        """The run is over: last refresh, outputs on disk, memory freed."""
        try:
            self.refresh()
        finally:
            self.om.finish(self.file_id, self.cell_id)

    def clear(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._chunks.clear()
        self.om.clear(self.file_id, self.cell_id)


def too_large(om: LargeOutputsManager, ycell: Map, output: dict[str, t.Any]) -> bool:
    """Would the cell's outputs, with ``output`` added, hold one larger than the limit?"""
    if output_size(output) > om.inline_limit:
        return True
    if output["output_type"] != "stream":
        return False
    youtputs = ycell["outputs"]
    last = youtputs[len(youtputs) - 1] if len(youtputs) else None
    if isinstance(last, Map) and last.get("output_type") == "stream" and last.get("name") == output["name"]:
        text = last.get("text")  # a pycrdt Text: len() without building the string
        return (len(text) if text is not None else 0) + len(output["text"]) > om.inline_limit
    return False


def _same_stream(last: dict[str, t.Any] | None, output: dict[str, t.Any]) -> bool:
    return (
        last is not None
        and output["output_type"] == "stream"
        and last.get("output_type") == "stream"
        and last.get("name") == output.get("name")
    )


def _merge(outputs: list[dict[str, t.Any]], output: dict[str, t.Any]) -> None:
    """Append ``output``, or extend the last one when both are the same stream."""
    last = outputs[-1] if outputs else None
    if _same_stream(last, output):
        assert last is not None
        last["text"] = (last.get("text") or "") + output["text"]
    else:
        outputs.append(output)
