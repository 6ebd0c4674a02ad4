"""ltt-ext's tools for MCP clients, served by jupyter-server-mcp, behind the Jupyter server's own auth.

jupyter-server-mcp (the MCP server Jupyter AI's agents use) discovers these tools through the
``jupyter_server_mcp.tools`` entry point (:func:`mcp_tools`) and this module's
:class:`JupyterTokenAuth` through ``jupyter_server_mcp.middleware``. Its FastMCP server listens on
its own port, outside Jupyter Server's token and XSRF checks: on that port anyone who can open a
local TCP connection could call every registered tool, i.e. run code in the learner's kernel.

**Every MCP message must carry the server's credentials**, exactly those a REST client presents
to Jupyter Server: ``Authorization: token <token>`` (or ``Bearer <token>``). They are checked by the
*server's own* identity provider and authorizer (token, password-less setups, JupyterHub's
``HubOAuth`` alike) on a request object that carries only that header — no cookies, so a browser
page cannot ride on the learner's login — and the user must be allowed to ``execute`` on
``kernels``. Anything else (no header, a wrong token, a server with ltt-ext not loaded) is refused
before any tool runs, for every tool of that MCP server, ours and other extensions' alike; our
tools check again themselves, in case the middleware is turned off (``use_middleware_discovery``).
We keep jupyter-server-mcp's own port rather than mounting MCP inside Jupyter Server, because
that is where Jupyter AI and the MCP clients configured for it already connect.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from jupyter_core.utils import ensure_async

from .base import MCP, CallContext

log = logging.getLogger(__name__)

NAMES = [
    "ltt_read_notebook",
    "ltt_runtime_facts",
    "ltt_recent_errors",
    "ltt_run_in_sidecar",
    "ltt_interrupt_cell",
    "ltt_run_cell",
    "ltt_insert_cell",
    "ltt_ask_tutor",
]


def mcp_tools() -> list[str]:
    """The ``jupyter_server_mcp.tools`` entry point: our tools as ``module:function`` strings."""
    from .layer import current

    layer = current()
    if layer is not None and not layer.mcp:
        return []
    return [f"{__name__}:{name}" for name in NAMES]


class NotAuthenticated(Exception):
    pass


class _NoConnection:
    """What tornado needs of a connection for a request that is only authenticated, never answered."""

    context = None

    def set_close_callback(self, callback) -> None:
        pass


def _serverapp():
    from .layer import current

    layer = current()
    if layer is not None and layer.serverapp is not None:
        return layer.serverapp
    from jupyter_server.serverapp import ServerApp

    return ServerApp.instance() if ServerApp.initialized() else None


async def identify(serverapp, authorization: str) -> str:
    """The Jupyter user that ``authorization`` (an HTTP Authorization header) authenticates, if that
    user may execute code in kernels; else :class:`NotAuthenticated`."""
    from jupyter_server.base.handlers import JupyterHandler
    from tornado.httputil import HTTPHeaders, HTTPServerRequest

    web_app = getattr(serverapp, "web_app", None)
    if web_app is None:
        raise NotAuthenticated("the Jupyter server is not running")
    headers = HTTPHeaders()
    if authorization:
        headers["Authorization"] = authorization
    request = HTTPServerRequest(
        method="POST",
        uri=serverapp.base_url.rstrip("/") + "/ltt/mcp",
        headers=headers,
        connection=_NoConnection(),  # type: ignore[arg-type]
        host="localhost",
    )
    handler = JupyterHandler(web_app, request)
    user = await ensure_async(serverapp.identity_provider.get_user(handler))
    if user is None:
        raise NotAuthenticated(
            "this MCP server needs the Jupyter server's token: send 'Authorization: token <token>'"
        )
    allowed = await ensure_async(serverapp.authorizer.is_authorized(handler, user, "execute", "kernels"))
    if not allowed:
        raise NotAuthenticated("this Jupyter user may not run code on this server")
    return getattr(user, "username", None) or "anonymous"


async def authenticate() -> str:
    """Authenticate the MCP request being handled (its HTTP headers), or raise."""
    try:
        from fastmcp.server.dependencies import get_http_request

        request = get_http_request()
    except Exception:
        raise NotAuthenticated("not an HTTP request: refused") from None
    serverapp = _serverapp()
    if serverapp is None:
        raise NotAuthenticated("no Jupyter server to check the token with: refused")
    return await identify(serverapp, request.headers.get("authorization", ""))


try:
    from fastmcp.exceptions import AuthorizationError, ToolError
    from fastmcp.server.middleware import Middleware
except ImportError:  # jupyter-server-mcp (and fastmcp) not installed: nothing below is used
    Middleware = object  # type: ignore[assignment,misc]
    ToolError = AuthorizationError = RuntimeError  # type: ignore[assignment,misc]


class JupyterTokenAuth(Middleware):
    """FastMCP middleware: every MCP message (initialize included) needs the Jupyter server's token."""

    async def on_message(self, context, call_next):
        try:
            await authenticate()
        except NotAuthenticated as e:
            log.warning("ltt mcp: refused an MCP %s: %s", getattr(context, "method", "message"), e)
            raise AuthorizationError(str(e)) from None
        return await call_next(context)


async def _call(name: str, args: dict[str, Any]) -> Any:
    from .layer import current

    try:
        user = await authenticate()
    except NotAuthenticated as e:
        raise AuthorizationError(str(e)) from None
    layer = current()
    if layer is None:
        raise ToolError("ltt-ext is not running in this Jupyter server")
    args = {k: v for k, v in args.items() if v is not None}
    result = await layer.call(name, args, CallContext(MCP, user=user))
    if not result.ok:
        raise ToolError(f"{result.status}: {result.error}")
    return result.content


async def ltt_read_notebook(
    path: str, cell_ids: list[str] | None = None, include_outputs: bool = True
) -> dict:
    """Read a notebook's cells (id, type, source, execution count) and their outputs as text, from the
    live document when the notebook is open. `path` is relative to the Jupyter server's root."""
    return await _call(
        "read_notebook", {"path": path, "cell_ids": cell_ids, "include_outputs": include_outputs}
    )


async def ltt_runtime_facts(path: str, names: list[str]) -> dict:
    """What some variables of the notebook's kernel are right now (type, length, keys, shape, columns),
    read from the idle kernel without running the learner's code."""
    return await _call("runtime_facts", {"path": path, "names": names})


async def ltt_recent_errors(path: str, limit: int = 5) -> dict:
    """The learner's recent errors in a notebook and the hints the tutor gave for them."""
    return await _call("recent_errors", {"path": path, "limit": limit})


async def ltt_run_in_sidecar(path: str, code: str) -> dict:
    """Run a snippet in the notebook's sidecar kernel: a scratch kernel next to the notebook, never the
    learner's (its variables are not there, and nothing reaches the notebook)."""
    return await _call("run_in_sidecar", {"path": path, "code": code})


async def ltt_interrupt_cell(path: str) -> dict:
    """Interrupt the cell running in a notebook's kernel. Needs the learner's permission (their panel)
    or the course policy (c.Tools.agents_may_interrupt)."""
    return await _call("interrupt_cell", {"path": path})


async def ltt_run_cell(
    path: str, cell_id: str | None = None, index: int | None = None, timeout: float = 30.0
) -> dict:
    """Run one code cell of a notebook (by id or index) in the notebook's kernel, starting a session if it
    has none; the outputs are written into the notebook, as when the learner runs it."""
    return await _call("run_cell", {"path": path, "cell_id": cell_id, "index": index, "timeout": timeout})


async def ltt_insert_cell(
    path: str, source: str, cell_type: Literal["code", "markdown"] = "code", index: int | None = None
) -> dict:
    """Insert a cell into a notebook (the live document when it is open, so every browser sees it; else the
    file). `index` defaults to the end. Returns the new cell's id."""
    return await _call(
        "insert_cell", {"path": path, "source": source, "cell_type": cell_type, "index": index}
    )


async def ltt_ask_tutor(
    path: str, question: str | None = None, cell_id: str | None = None, more_help: bool = False
) -> dict:
    """Ask the notebook's tutor a question, or (more_help) for the next hint on the latest error. The tutor
    gives hints, not solutions, exactly as in the learner's panel."""
    return await _call(
        "ask_tutor", {"path": path, "question": question, "cell_id": cell_id, "more_help": more_help}
    )
