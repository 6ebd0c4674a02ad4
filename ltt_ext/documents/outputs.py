"""Large outputs live outside the notebook's YDoc; the ``.ipynb`` on disk still holds them in full.

A cell printing 100,000 lines or showing a 5 MB image was one huge entry in the
YDoc: kept in the server's memory with its update history and synced to every
collaborator when they open the notebook. jupyter-server-documents has the
pieces for keeping outputs out: its ``OutputsManager`` stores outputs as files
served by ``GET /api/outputs/<file id>/<cell id>[/<index>.output]``, and its
JupyterLab plugin (on when the page config says ``outputsServiceEnabled``)
renders an output whose ``metadata.url`` is set by fetching it, and a cell whose
first output is such a placeholder by fetching all of the cell's outputs.

Its stock manager moves *every* output out (and its saving step keeps only what
is on disk). :class:`LargeOutputsManager` moves only the cells that need it: a
code cell stays in the YDoc as it is unless one of its outputs is larger than
:attr:`~LargeOutputsManager.inline_limit`; such a cell then has all its outputs
on disk and placeholders in the YDoc (the front end fetches a cell's outputs all
or none). Saving puts the full outputs back into the ``.ipynb``.

While a cell runs, the notebook writer (:mod:`.writer`) keeps a moved cell's
outputs here, in memory: browsers and saves read them from there, and they are
written to disk when the run ends. A growing stream's placeholder is renewed (a new
``?v=`` in its URL, so that browsers fetch it again) at most every
:attr:`~LargeOutputsManager.flush_interval` seconds, less often once it is large
(see :mod:`.external`).
"""

from __future__ import annotations

import json
import os
import shutil
import typing as t
from pathlib import Path

from jupyter_server_documents.outputs.manager import OutputsManager
from traitlets import Float, Int

PLACEHOLDER_KEY = "url"


def output_size(output: dict[str, t.Any]) -> int:
    """Bytes the output takes as JSON (strings counted by length: close enough, and cheap)."""
    if output.get("output_type") == "stream":
        return len(output.get("text") or "")
    size = 0
    for value in (output.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(json.dumps(value))
    if output.get("output_type") == "error":
        size += sum(len(line) for line in output.get("traceback") or [])
    return size


def is_placeholder(output: t.Any) -> bool:
    """An output (dict or YDoc ``Map``) standing for one kept outside the YDoc."""
    metadata = output.get("metadata") if hasattr(output, "get") else None
    return metadata is not None and hasattr(metadata, "get") and bool(metadata.get(PLACEHOLDER_KEY))


class LargeOutputsManager(OutputsManager):
    """jupyter-server-documents' outputs manager, for large outputs only."""

    inline_limit = Int(
        256 * 1024,
        config=True,
        help="Outputs larger than this many bytes (a stream's text, a display's data) are kept out "
        "of the notebook's YDoc with the rest of their cell's outputs: browsers fetch them from "
        "/api/outputs, the .ipynb on disk still holds them. 0: every output stays in the YDoc.",
    )
    flush_interval = Float(
        1.0,
        config=True,
        help="Seconds between refreshes of a growing large stream (re-fetched by browsers) while its "
        "cell runs; a stream over 4 MiB is refreshed proportionally less often.",
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # (file id, cell id) -> the outputs of a moved cell whose run is in progress.
        self._live: dict[tuple[str, str], list[dict[str, t.Any]]] = {}

    @property
    def enabled(self) -> bool:
        return self.inline_limit > 0

    # -- storage --------------------------------------------------------------------------

    def url(self, file_id: str, cell_id: str, index: int, version: int = 0) -> str:
        url = f"/api/outputs/{file_id}/{cell_id}/{index}.output"
        return f"{url}?v={version}" if version else url

    def placeholder(self, output: dict[str, t.Any], url: str) -> dict[str, t.Any]:
        """What the YDoc holds instead of ``output`` (jupyter-server-documents' shape)."""
        kind = output.get("output_type", "display_data")
        ph: dict[str, t.Any] = {"output_type": kind, "metadata": {PLACEHOLDER_KEY: url}}
        if kind == "stream":
            ph.update(name=output.get("name", "stdout"), text="")
        return ph

    def store(self, file_id: str, cell_id: str, outputs: list[dict[str, t.Any]], live: bool = False) -> None:
        """Replace the cell's outputs on disk (and keep them in memory while ``live``)."""
        self.clear(file_id, cell_id)
        if live:
            self._live[(file_id, cell_id)] = outputs
        self.write_all(file_id, cell_id, outputs)

    def write_all(self, file_id: str, cell_id: str, outputs: list[dict[str, t.Any]]) -> None:
        self._ensure_path(file_id, cell_id)
        for index, output in enumerate(outputs):
            self.write_one(file_id, cell_id, index, output)

    def write_one(self, file_id: str, cell_id: str, index: int, output: dict[str, t.Any]) -> None:
        path = Path(self._build_path(file_id, cell_id, index))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(output, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half an output

    def live_outputs(self, file_id: str, cell_id: str) -> list[dict[str, t.Any]] | None:
        return self._live.get((file_id, cell_id))

    def finish(self, file_id: str, cell_id: str) -> None:
        """The cell's run is over: its outputs are on disk, memory is freed."""
        outputs = self._live.pop((file_id, cell_id), None)
        if outputs is not None:
            self.write_all(file_id, cell_id, outputs)

    def clear(self, file_id, cell_id=None):
        self._live.pop((file_id, cell_id), None)
        path = self._build_path(file_id, cell_id)
        shutil.rmtree(path, ignore_errors=True)
        self._last_output_index.pop(cell_id, None)

    # -- served by /api/outputs (jupyter-server-documents' handler) -------------------------

    def get_output(self, file_id, cell_id, output_index):
        live = self._live.get((file_id, cell_id))
        index = int(output_index)
        if live is not None and 0 <= index < len(live):
            return live[index]
        return super().get_output(file_id, cell_id, output_index)

    def get_outputs(self, file_id, cell_id):
        live = self._live.get((file_id, cell_id))
        if live is not None:
            return [json.dumps(o, ensure_ascii=False) for o in live]
        return super().get_outputs(file_id, cell_id)

    # -- the .ipynb <-> the YDoc --------------------------------------------------------------

    def too_large(self, outputs: t.Iterable[dict[str, t.Any]]) -> bool:
        return self.enabled and any(output_size(o) > self.inline_limit for o in outputs)

    def process_loaded_notebook(self, file_id: str, file_data: dict) -> dict:
        """A notebook read from disk: only cells with a large output are moved out."""
        nb = self._upgrade_notebook_format(file_data["content"])
        for cell in nb.get("cells", []):
            self._ensure_cell_id(cell)
            if cell.get("cell_type") != "code":
                continue
            cell_id = cell["id"]
            outputs = cell.get("outputs") or []
            self.clear(file_id, cell_id)
            if not self.too_large(outputs):
                continue
            self.store(file_id, cell_id, [dict(o) for o in outputs])
            cell["outputs"] = [
                self.placeholder(o, self.url(file_id, cell_id, i)) for i, o in enumerate(outputs)
            ]
        file_data["content"] = nb
        return file_data

    def process_saving_notebook(self, nb: dict, file_id: str) -> dict:
        """The YDoc going to disk: placeholders are replaced by the outputs they stand for."""
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code" or not any(
                is_placeholder(o) for o in cell.get("outputs") or []
            ):
                continue
            cell_id = cell.get("id")
            live = self._live.get((file_id, cell_id)) if cell_id else None
            if live is not None:
                cell["outputs"] = [dict(o) for o in live]
            elif cell_id:
                cell["outputs"] = [json.loads(s) for s in super().get_outputs(file_id, cell_id)]
            else:
                cell["outputs"] = []
        return nb


def enable(documents_app) -> None:
    """Make jupyter-server-documents use :class:`LargeOutputsManager` with its outputs service on,
    unless the configuration says otherwise. Call before its ``initialize_settings`` reads
    ``OutputProcessor.use_outputs_service`` (that also tells its JupyterLab plugin)."""
    section = documents_app.config.OutputProcessor
    if "use_outputs_service" not in section:
        section.use_outputs_service = True
    if documents_app.outputs_manager_class is OutputsManager:
        documents_app.outputs_manager_class = LargeOutputsManager
