"""REST for the tool layer's panel side (docs/api.md): "Try it" in a sidecar kernel, and the
learner's permission for the tutor and agents to interrupt a runaway cell. No logic here."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..tools.base import PANEL, CallContext
from .base import LttAPIHandler, string_field

MAX_CODE_CHARS = 100_000


def _tools(handler):
    tools = handler.settings.get("ltt_tools")
    if tools is None:
        raise web.HTTPError(503, "ltt-ext's tools are not available on this server.")
    return tools


def _user(handler) -> str:
    user = handler.current_user
    return getattr(user, "username", None) or str(user or "anonymous")


class TryHandler(LttAPIHandler):
    """POST {path, code}: run a tutor's example in the notebook's sidecar kernel (never the learner's)."""

    # Running code: the same permission as running code in a kernel.
    auth_resource = "kernels"

    @web.authenticated
    @authorized(action="execute")
    async def post(self):
        tools = _tools(self)
        body = self.json_body()
        code = string_field(body, "code", required=True, max_length=MAX_CODE_CHARS)
        path = await self.notebook_path(body.get("path"))
        if not tools.sidecars.enabled or tools.sidecars.max_sidecars <= 0:
            raise web.HTTPError(503, "Sidecar kernels are turned off on this server.")
        result = await tools.call(
            "run_in_sidecar", {"path": path, "code": code}, CallContext(PANEL, _user(self))
        )
        if result.status == "invalid":
            raise web.HTTPError(400, result.error)
        if result.status == "refused":
            raise web.HTTPError(403, result.error)
        if not result.ok:
            raise web.HTTPError(503, result.error)
        self.finish(
            json.dumps(
                {
                    "path": path,
                    **result.content,
                    "truncated": result.content.get("truncated") or result.truncated,
                }
            )
        )


class PermissionsHandler(LttAPIHandler):
    """GET ?path= / PUT {path, interrupt}: may the tutor and agents stop this notebook's runaway cells?"""

    auth_resource = "ltt"

    @web.authenticated
    @authorized
    async def get(self):
        tools = _tools(self)
        path = await self.notebook_path(self.get_query_argument("path", None))
        self.finish(json.dumps({"path": path, "interrupt": tools.grants.allowed(tools.notebooks.key(path))}))

    @web.authenticated
    @authorized
    async def put(self):
        tools = _tools(self)
        body = self.json_body()
        path = await self.notebook_path(body.get("path"))
        allow = body.get("interrupt")
        if not isinstance(allow, bool):
            raise web.HTTPError(400, '"interrupt" must be true or false.')
        if allow:
            tools.grants.allow(tools.notebooks.key(path))
        else:
            tools.grants.revoke(tools.notebooks.key(path))
        self.finish(json.dumps({"path": path, "interrupt": allow}))


tools_handlers = [
    (r"/ltt/api/tutor/try", TryHandler),
    (r"/ltt/api/tutor/permissions", PermissionsHandler),
]
