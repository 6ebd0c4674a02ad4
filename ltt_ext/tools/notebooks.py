"""How the tools reach notebooks on the server: paths, sessions, kernels, live rooms, contents.

The only part of the tool layer that knows the server's object graph (the ServerApp's managers and
jupyter-server-documents' rooms); the tools themselves (:mod:`ltt_ext.tools.layer`) ask it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
from typing import Any

from jupyter_core.utils import ensure_async

from ..workspace import normalize_path
from .base import ToolFailed


class Notebooks:
    def __init__(self, serverapp, tutor=None, workspace=None, log: logging.Logger | None = None):
        self.serverapp = serverapp
        self.tutor = tutor
        self.workspace = workspace
        self.log = log or logging.getLogger(__name__)

    @property
    def _settings(self) -> dict[str, Any]:
        web_app = getattr(self.serverapp, "web_app", None)
        return web_app.settings if web_app is not None else {}

    def key(self, path: str) -> str:
        if self.tutor is not None:
            return self.tutor._key(path)
        file_id = getattr(self.workspace, "file_id", None)
        return (file_id(path) if file_id else None) or path

    async def notebook_path(self, value: Any) -> str:
        """A notebook under the root that exists, or ToolFailed."""
        try:
            path = normalize_path(value)
        except ValueError as e:
            raise ToolFailed(f"path: {e}") from None
        cm = self.serverapp.contents_manager
        try:
            model = await ensure_async(cm.get(path, content=False))
        except Exception:
            raise ToolFailed(f"no such notebook: {path}") from None
        if model.get("type") != "notebook":
            raise ToolFailed(f"not a notebook: {path}")
        return path

    async def session_of(self, path: str) -> dict[str, Any] | None:
        sessions = await ensure_async(self.serverapp.session_manager.list_sessions())
        for s in sessions:
            spath, name = s.get("path") or "", s.get("name") or ""
            if not spath.endswith(".ipynb") and name.endswith(".ipynb"):
                spath = posixpath.join(posixpath.dirname(spath), name)
            if spath == path and s.get("kernel"):
                return s
        return None

    async def kernel_of(self, path: str) -> tuple[str | None, str | None]:
        s = await self.session_of(path)
        if s is None:
            return None, None
        kernel = s.get("kernel") or {}
        return kernel.get("id"), kernel.get("name")

    def _room_id(self, path: str) -> str | None:
        fim = self._settings.get("file_id_manager")
        file_id = fim.index(path) if fim is not None else None
        return f"json:notebook:{file_id}" if file_id else None

    def live_room(self, path: str):
        rooms = self._settings.get("yroom_manager")
        room_id = self._room_id(path)
        if rooms is None or room_id is None or not rooms.has_room(room_id):
            return None
        return rooms.get_room(room_id)

    async def room_for_run(self, path: str, kernel_id: str):
        """The notebook's room, loaded and listening to ``kernel_id`` (so the writer records runs)."""
        rooms = self._settings.get("yroom_manager")
        room_id = self._room_id(path)
        if rooms is None or room_id is None:
            return None
        room = rooms.get_room(room_id)
        if room is None:
            return None
        await asyncio.wait_for(room.get_jupyter_ydoc(), 30)
        writer = self._settings.get("ltt_writer")
        if writer is not None and room not in writer.rooms_of(kernel_id):
            await room.connect_kernel(self.serverapp.kernel_manager.get_kernel(kernel_id))
        return room

    async def notebook(self, path: str) -> tuple[dict[str, Any], str]:
        """The notebook as nbformat JSON: from its live YDoc when a room is loaded, else the file."""
        room = self.live_room(path)
        if room is not None:
            try:
                ydoc = await asyncio.wait_for(room.get_jupyter_ydoc(), 10)
                nb = ydoc.get()
                self._resolve_placeholders(path, nb)
                return nb, "live"
            except Exception:
                self.log.debug("ltt tools: live room of %s unreadable; reading the file", path, exc_info=True)
        model = await ensure_async(self.serverapp.contents_manager.get(path, content=True, type="notebook"))
        return json.loads(json.dumps(model.get("content") or {})), "file"

    def _resolve_placeholders(self, path: str, nb: dict[str, Any]) -> None:
        """Outputs kept outside the YDoc (jupyter-server-documents' outputs manager) read back."""
        om = self._settings.get("outputs_manager")
        fim = self._settings.get("file_id_manager")
        if om is None or fim is None:
            return
        file_id = fim.index(path)
        for cell in nb.get("cells", []):
            outs = cell.get("outputs") or []
            if not any(
                isinstance((o or {}).get("metadata"), dict) and o["metadata"].get("url") for o in outs
            ):
                continue
            try:
                live = getattr(om, "live_outputs", None)
                full = live(file_id, cell.get("id")) if live is not None else None
                if full is None:
                    full = [json.loads(s) for s in om.get_outputs(file_id, cell.get("id"))]
                cell["outputs"] = full
            except Exception:
                self.log.debug("ltt tools: outputs of %s not readable", cell.get("id"), exc_info=True)
