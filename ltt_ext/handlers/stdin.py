"""PUT /ltt/api/kernels/<kernel_id>/stdin: which kernel websocket answers the prompts of the
cells the server runs for a document client (see :mod:`ltt_ext.documents.stdin`)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import MAX_ID_LENGTH, LttAPIHandler, string_field


class KernelStdinRouteHandler(LttAPIHandler):
    # Answering a kernel's prompts is running code in it.
    auth_resource = "kernels"

    @web.authenticated
    @authorized(action="execute")
    async def put(self, kernel_id: str):
        body = self.json_body()
        client_id = string_field(body, "client_id", required=True, max_length=MAX_ID_LENGTH)
        session_id = string_field(body, "session_id", required=True, max_length=MAX_ID_LENGTH)
        if kernel_id not in self.kernel_manager:
            raise web.HTTPError(404, f"No such kernel: {kernel_id}")
        client = getattr(self.kernel_manager.get_kernel(kernel_id), "kernel_client", None)
        if client is None or not hasattr(client, "route_stdin"):
            raise web.HTTPError(409, "This kernel has no shared client (ltt-ext is not managing it).")
        client.route_stdin(client_id, session_id)
        self.set_status(204)
        self.finish()


stdin_handlers = [(r"/ltt/api/kernels/(?P<kernel_id>[^/]+)/stdin", KernelStdinRouteHandler)]
