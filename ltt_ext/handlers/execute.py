"""POST /ltt/api/kernels/<kernel_id>/execute: run code through the shared client."""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..kernels.execute import KernelNotReady, execute
from .base import MAX_ID_LENGTH, LttAPIHandler, number_field, string_field

MAX_TIMEOUT = 3600.0
ROOM_LOAD_TIMEOUT = 30.0  # a notebook that does not load in this long is not waited for


class KernelExecuteHandler(LttAPIHandler):
    # Same permission as running code through the kernels API.
    auth_resource = "kernels"
    max_body_bytes = 16 << 20  # code may carry data; the server's own limit is far higher

    @web.authenticated
    @authorized(action="execute")
    async def post(self, kernel_id: str):
        body = self.json_body()
        code = string_field(body, "code")
        if code is None:
            raise web.HTTPError(400, '"code" must be a string.')
        timeout = number_field(body, "timeout", default=30, low=0, high=MAX_TIMEOUT)
        cell_id = string_field(body, "cell_id", max_length=MAX_ID_LENGTH, forbidden=":#")
        path = body.get("path")

        kernel_manager = self.kernel_manager
        if kernel_id not in kernel_manager:
            raise web.HTTPError(404, f"No such kernel: {kernel_id}")
        km = kernel_manager.get_kernel(kernel_id)
        if getattr(km, "kernel_client", None) is None:
            raise web.HTTPError(409, "This kernel has no shared client (ltt-ext is not managing it).")
        if path is not None:
            path = await self.notebook_path(path)
            if cell_id is not None:
                await self._connect_notebook(path, kernel_id)
        try:
            result = await execute(km, code, timeout=timeout, cell_id=cell_id)
        except KernelNotReady as e:
            raise web.HTTPError(409, str(e)) from None
        self.finish(result.to_dict())

    async def _connect_notebook(self, path: str, kernel_id: str) -> None:
        """Make sure the notebook's room listens to this kernel, so the cell records the run."""
        fileids = self.settings.get("file_id_manager")
        rooms = self.settings.get("yroom_manager")
        if fileids is None or rooms is None:
            return
        room_id = f"json:notebook:{fileids.index(path)}"
        ours = not rooms.has_room(room_id)
        room = rooms.get_room(room_id)
        if room is None:
            return
        try:
            # The file was read just now, yet it can change before the room loads it: a room
            # whose load fails never finishes loading, so the wait is bounded.
            await asyncio.wait_for(room.get_jupyter_ydoc(), ROOM_LOAD_TIMEOUT)
        except Exception:
            if not ours:  # someone else's room (a browser's): not ours to drop
                raise web.HTTPError(503, f"The notebook is still loading: {path}") from None
            try:
                await rooms.delete_room(room_id)
            except Exception:
                self.log.debug("Could not stop the room of %s", path, exc_info=True)
            raise web.HTTPError(400, f"Not a readable notebook: {path}") from None
        writer = self.settings.get("ltt_writer")
        if writer is not None and room not in writer.rooms_of(kernel_id):
            await room.connect_kernel(self.kernel_manager.get_kernel(kernel_id))


execute_handlers = [
    # Any id reaches the handler, so an unknown one is a JSON 404 rather than the server's HTML page.
    (r"/ltt/api/kernels/(?P<kernel_id>[^/]+)/execute", KernelExecuteHandler),
]
