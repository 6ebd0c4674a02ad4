"""What the tutor needs from the running Jupyter server, behind a small surface.

The tutor stays free of tornado and of the server's object graph: it asks this
adapter for a kernel's notebook paths (sessions), a notebook's current cells
(the server-side YDoc of jupyter-server-documents when a room is live, else
the ``.ipynb`` through the contents manager), instructor files, and path checks.
"""

from __future__ import annotations

import posixpath
from typing import Any

from jupyter_core.utils import ensure_async

from .tutor.context import Cell
from .tutor.text import source_text


def normalize_path(path: str) -> str:
    """An API path relative to the server root; raises ValueError for anything escaping it."""
    if not isinstance(path, str):
        raise ValueError("path must be a string")
    p = path.strip().replace("\\", "/")
    if not p:
        raise ValueError("path is empty")
    if p.startswith(("/", "~")) or (len(p) > 1 and p[1] == ":") or "\x00" in p:
        raise ValueError("path must be relative to the server root")
    if any(part == ".." for part in p.split("/")):
        raise ValueError("path must not leave the server root")
    p = posixpath.normpath(p)
    if p in (".", "") or p.startswith("../"):
        raise ValueError("path must name a file under the server root")
    return p


class ServerWorkspace:
    def __init__(self, serverapp):
        self.serverapp = serverapp

    @property
    def _settings(self) -> dict[str, Any]:
        web_app = getattr(self.serverapp, "web_app", None)
        return web_app.settings if web_app is not None else {}

    @property
    def contents_manager(self):
        return self.serverapp.contents_manager

    normalize_path = staticmethod(normalize_path)

    @property
    def event_logger(self):
        """The server's jupyter_events logger (the tutor emits message metadata on it)."""
        return getattr(self.serverapp, "event_logger", None)

    def file_id(self, path: str) -> str | None:
        """The notebook's id in jupyter_server_fileid (kept across renames and moves), or None."""
        fim = self._settings.get("file_id_manager")
        return fim.index(path) if fim is not None else None

    async def exists(self, path: str) -> bool:
        try:
            return bool(await ensure_async(self.contents_manager.file_exists(path)))
        except Exception:
            return False

    async def kernel_paths(self, kernel_id: str) -> list[str]:
        """Notebook paths of the sessions on ``kernel_id``, in session order."""
        paths: list[str] = []
        sessions = await ensure_async(self.serverapp.session_manager.list_sessions())
        for s in sessions:
            if (s.get("kernel") or {}).get("id") != kernel_id:
                continue
            path, name = s.get("path") or "", s.get("name") or ""
            # JupyterLab first creates sessions at "<dir>/<uuid>" with the real file name in `name`
            if not path.endswith(".ipynb") and name.endswith(".ipynb"):
                path = posixpath.join(posixpath.dirname(path), name)
            if path.endswith(".ipynb") and s.get("type", "notebook") == "notebook" and path not in paths:
                paths.append(path)
        return paths

    def _room(self, path: str):
        yroom_manager = self._settings.get("yroom_manager")
        fim = self._settings.get("file_id_manager")
        if yroom_manager is None or fim is None:
            return None
        file_id = fim.index(path)
        if not file_id:
            return None
        room_id = f"json:notebook:{file_id}"
        # only read a live room: creating one just to read would load it and keep it around
        return yroom_manager.get_room(room_id) if yroom_manager.has_room(room_id) else None

    async def notebook_cells(self, path: str) -> list[Cell] | None:
        room = None
        try:
            room = self._room(path)
        except Exception:
            room = None
        if room is not None:
            try:
                ydoc = await room.get_jupyter_ydoc()
                return [
                    Cell(
                        str(c.get("id")) if c.get("id") is not None else None,
                        str(c.get("cell_type") or "code"),
                        str(c.get("source") or ""),
                    )
                    for c in ydoc.ycells
                ]
            except Exception:
                pass
        try:
            model = await ensure_async(self.contents_manager.get(path, content=True, type="notebook"))
        except Exception:
            return None
        nb = model.get("content") or {}
        return [
            Cell(c.get("id"), c.get("cell_type", "code"), source_text(c.get("source")))
            for c in nb.get("cells", [])
        ]

    async def read_text(self, path: str) -> str | None:
        """A text file's content, or None (instructor notes: server-side only)."""
        cm = self.contents_manager
        try:
            if not await ensure_async(cm.file_exists(path)):
                return None
            model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        except Exception:
            return None
        content = model.get("content")
        return content if isinstance(content, str) else None

    async def user_expressions(
        self, kernel_id: str, expressions: dict[str, str], timeout: float
    ) -> dict | None:
        """Evaluate ``expressions`` silently in an idle Python kernel of ours (the tutor's runtime
        facts); None when the kernel is busy, unknown, remote (gateway) or not Python."""
        from .kernels.execute import user_expressions

        try:
            km = self.serverapp.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return None
        if getattr(km, "kernel_client", None) is None:
            return None  # a gateway kernel: no shared client to ask through
        try:
            language = (km.kernel_spec.language or "").lower()
        except Exception:
            return None
        if language != "python":
            return None
        return await user_expressions(km, expressions, timeout=timeout)
