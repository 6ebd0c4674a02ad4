"""REST + websocket of a terminal's tutor conversation (``terminal:<name>``). No logic here.

The same shapes as the notebooks' endpoints (docs/api.md), with ``terminal`` (the terminal's
name, as in ``/terminals/websocket/<name>``) instead of ``path``.
"""

from __future__ import annotations

import json

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from ..terminals.service import TerminalTutor
from ..tutor.service import TutorInputError
from .tutor import AUTH_RESOURCE, StreamHandler, TutorAPIHandler, _tutor, _user


def _terminals(handler) -> TerminalTutor:
    return _tutor(handler).terminal_tutor


class TerminalAPIHandler(TutorAPIHandler):
    @property
    def terminals(self) -> TerminalTutor:
        return _terminals(self)


class TerminalHistoryHandler(TerminalAPIHandler):
    @web.authenticated
    @authorized
    async def get(self):
        name = self.get_query_argument("terminal", None)
        since = self.query_number("since")
        messages = await self.call(self.terminals.history(name, since))
        self.finish(json.dumps({"terminal": name, "path": f"terminal:{name}", "messages": messages}))


class TerminalAskHandler(TerminalAPIHandler):
    @web.authenticated
    @authorized
    async def post(self):
        b = self.body()
        await self.accepted(self.terminals.ask(b.get("terminal"), b.get("text"), user=_user(self)))


class TerminalMoreHandler(TerminalAPIHandler):
    @web.authenticated
    @authorized
    async def post(self):
        b = self.body()
        await self.accepted(self.terminals.more(b.get("terminal"), user=_user(self)))


class TerminalStopHandler(TerminalAPIHandler):
    """Terminal replies are written at once: there is never a stream to stop (kept for symmetry)."""

    @web.authenticated
    @authorized
    async def post(self):
        b = self.body()
        await self.call(_check(self.terminals, b.get("terminal")))
        self.finish(json.dumps({"stopped": False}))


async def _check(terminals: TerminalTutor, name) -> str:
    return terminals.checked_name(name)


class TerminalStreamHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Pushes every event of one terminal's conversation, as JSON text frames."""

    auth_resource = AUTH_RESOURCE
    _unsubscribe = None
    _send = StreamHandler._send
    on_message = StreamHandler.on_message
    on_close = StreamHandler.on_close

    def set_default_headers(self):
        """No JupyterHandler default headers on a websocket upgrade."""

    write_error = APIHandler.write_error

    @ws_authenticated
    async def get(self, *args, **kwargs):
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        tutor = _tutor(self)
        try:
            self.terminal = tutor.terminal_tutor.checked_name(self.get_query_argument("terminal", None))
        except TutorInputError as e:
            raise web.HTTPError(400, str(e)) from None
        self.tutor = tutor
        await super().get(*args, **kwargs)

    def open(self, *args, **kwargs):
        super().open()
        terminals = self.tutor.terminal_tutor
        self._send({"type": "hello", "info": self.tutor.info()})
        self._send(terminals.status(self.terminal))
        self._unsubscribe = terminals.subscribe(self.terminal, self._send)


terminal_handlers = [
    (r"/ltt/api/tutor/terminal/history", TerminalHistoryHandler),
    (r"/ltt/api/tutor/terminal/ask", TerminalAskHandler),
    (r"/ltt/api/tutor/terminal/more", TerminalMoreHandler),
    (r"/ltt/api/tutor/terminal/stop", TerminalStopHandler),
    (r"/ltt/api/tutor/terminal/stream", TerminalStreamHandler),
]
