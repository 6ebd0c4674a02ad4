"""POST /ltt/api/kernels/<kernel_id>/execute: run code through the shared client."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..kernels.execute import KernelNotReady, execute
from .base import LttAPIHandler

MAX_TIMEOUT = 3600.0


class KernelExecuteHandler(LttAPIHandler):
    # Same permission as running code through the kernels API.
    auth_resource = "kernels"

    @web.authenticated
    @authorized(action="execute")
    async def post(self, kernel_id: str):
        body = self.json_body()
        code = body.get("code")
        if not isinstance(code, str):
            raise web.HTTPError(400, '"code" must be a string.')
        timeout = body.get("timeout", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            0 < timeout <= MAX_TIMEOUT
        ):
            raise web.HTTPError(400, f'"timeout" must be a number of seconds in (0, {MAX_TIMEOUT:g}].')
        cell_id = body.get("cell_id")
        if cell_id is not None and (not isinstance(cell_id, str) or any(c in cell_id for c in ":#")):
            raise web.HTTPError(400, '"cell_id" must be a string without ":" or "#".')

        kernel_manager = self.kernel_manager
        if kernel_id not in kernel_manager:
            raise web.HTTPError(404, f"No such kernel: {kernel_id}")
        km = kernel_manager.get_kernel(kernel_id)
        if getattr(km, "kernel_client", None) is None:
            raise web.HTTPError(409, "This kernel has no shared client (ltt-ext is not managing it).")
        path = body.get("path")
        if cell_id is not None and path is not None:
            await self._connect_notebook(path, kernel_id)
        try:
            result = await execute(km, code, timeout=float(timeout), cell_id=cell_id)
        except KernelNotReady as e:
            raise web.HTTPError(409, str(e)) from None
        self.finish(result.to_dict())

    async def _connect_notebook(self, path, kernel_id: str) -> None:
        """Make sure the notebook's room listens to this kernel, so the cell records the run."""
        if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
            raise web.HTTPError(400, '"path" must be a notebook path relative to the server root.')
        fileids = self.settings.get("file_id_manager")
        rooms = self.settings.get("yroom_manager")
        if fileids is None or rooms is None:
            return
        if not await self._file_exists(path):
            raise web.HTTPError(404, f"No such notebook: {path}")
        room = rooms.get_room(f"json:notebook:{fileids.index(path)}")
        writer = self.settings.get("ltt_writer")
        if room is not None and writer is not None and room not in writer.rooms_of(kernel_id):
            await room.connect_kernel(self.kernel_manager.get_kernel(kernel_id))

    async def _file_exists(self, path: str) -> bool:
        from jupyter_core.utils import ensure_async

        return await ensure_async(self.contents_manager.file_exists(path))


execute_handlers = [
    (r"/ltt/api/kernels/(?P<kernel_id>[\w-]+)/execute", KernelExecuteHandler),
]
