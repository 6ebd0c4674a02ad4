"""REST + websocket translation for the tutor (docs/api.md). No logic here."""

from __future__ import annotations

import json

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..store import StoreUnavailable
from ..tutor.service import Tutor, TutorForbidden, TutorInputError, TutorNotFound
from .base import LttAPIHandler, checked_notebook_path

AUTH_RESOURCE = "ltt"


def _tutor(handler) -> Tutor:
    tutor = handler.settings.get("ltt_tutor")
    if tutor is None or not getattr(tutor, "enabled", True):
        raise web.HTTPError(503, "The tutor is turned off on this server.")
    return tutor


def _user(handler) -> str:
    user = handler.current_user
    return getattr(user, "username", None) or str(user or "anonymous")


class TutorAPIHandler(LttAPIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def tutor(self) -> Tutor:
        return _tutor(self)

    def body(self) -> dict:
        return self.json_body()

    async def call(self, coro):
        """Domain errors -> 4xx JSON, a locked/unavailable store -> 503 JSON
        (APIHandler.write_error renders {"message", "reason"})."""
        try:
            return await coro
        except TutorInputError as e:
            raise web.HTTPError(400, str(e)) from None
        except TutorNotFound as e:
            raise web.HTTPError(404, str(e)) from None
        except TutorForbidden as e:
            raise web.HTTPError(403, str(e)) from None
        except StoreUnavailable as e:
            raise web.HTTPError(503, str(e)) from None

    async def accepted(self, coro) -> None:
        """202 with the learner's message and the tutor's (still streaming) reply."""
        q, r = await self.call(coro)
        self.set_status(202)
        self.finish(json.dumps({"question": q.to_json(), "reply": r.to_json()}))


class InfoHandler(TutorAPIHandler):
    @web.authenticated
    @authorized
    async def get(self):
        self.finish(json.dumps(self.tutor.info()))


class HistoryHandler(TutorAPIHandler):
    @web.authenticated
    @authorized
    async def get(self):
        tutor = self.tutor
        since = self.query_number("since")
        path = await self.notebook_path(self.get_query_argument("path", None))
        path = await self.call(tutor.checked_path(path))
        messages = await self.call(self.tutor.history(path, since))
        self.finish(json.dumps({"path": path, "messages": messages}))


class AskHandler(TutorAPIHandler):
    @web.authenticated
    @authorized
    async def post(self):
        tutor, b = self.tutor, self.body()
        path = await self.notebook_path(b.get("path"))
        await self.accepted(
            tutor.ask(
                path, b.get("text"), b.get("cell_id"), user=_user(self), consent=b.get("consent") is True
            )
        )


class MoreHandler(TutorAPIHandler):
    @web.authenticated
    @authorized
    async def post(self):
        tutor, b = self.tutor, self.body()
        path = await self.notebook_path(b.get("path"))
        await self.accepted(
            tutor.more(path, b.get("cell_id"), user=_user(self), consent=b.get("consent") is True)
        )


class StopHandler(TutorAPIHandler):
    @web.authenticated
    @authorized
    async def post(self):
        tutor, b = self.tutor, self.body()
        path = await self.notebook_path(b.get("path"))
        stopped = await self.call(tutor.stop_reply(path, b.get("id")))
        self.finish(json.dumps({"stopped": stopped}))


class InterruptHandler(TutorAPIHandler):
    """The learner's Interrupt on a runaway-cell warning: ``{"path"}`` -> what was done."""

    @web.authenticated
    @authorized
    async def post(self):
        tutor, b = self.tutor, self.body()
        path = await self.notebook_path(b.get("path"))
        # stopping a cell is acting on a kernel: the server's authorizer has its say too
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "write", "kernels")
        )
        if not allowed:
            raise web.HTTPError(403, "You may not interrupt kernels on this server.")
        self.finish(json.dumps(await self.call(tutor.interrupt(path))))


class StreamHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Pushes every event of one notebook to the client, as JSON text frames."""

    auth_resource = AUTH_RESOURCE
    _unsubscribe = None

    def set_default_headers(self):
        """No JupyterHandler default headers on a websocket upgrade."""

    write_error = APIHandler.write_error  # a refused upgrade answers JSON, like the REST API

    @ws_authenticated
    async def get(self, *args, **kwargs):
        authorized_ = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not authorized_:
            raise web.HTTPError(403)
        tutor = _tutor(self)
        path = await checked_notebook_path(self, self.get_query_argument("path", None))
        try:
            self.nb_path = await tutor.checked_path(path)
        except TutorInputError as e:
            raise web.HTTPError(400, str(e)) from None
        except TutorNotFound as e:
            raise web.HTTPError(404, str(e)) from None
        self.tutor = tutor
        await super().get(*args, **kwargs)

    def open(self, *args, **kwargs):
        super().open()
        self._send({"type": "hello", "info": self.tutor.info()})
        self._send(self.tutor.status(self.nb_path))
        self._unsubscribe = self.tutor.subscribe(self.nb_path, self._send)

    def _send(self, event: dict) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            fut = self.write_message(json.dumps(event))
            fut.add_done_callback(lambda f: f.exception())  # a closed socket is not an error
        except WebSocketClosedError:
            pass

    def on_message(self, message):
        """The stream is one-way; requests go through REST. Whatever a client sends is ignored
        (tornado closes the socket on frames over ``websocket_max_message_size``)."""

    def on_close(self):
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


tutor_handlers = [
    (r"/ltt/api/tutor/info", InfoHandler),
    (r"/ltt/api/tutor/history", HistoryHandler),
    (r"/ltt/api/tutor/ask", AskHandler),
    (r"/ltt/api/tutor/more", MoreHandler),
    (r"/ltt/api/tutor/stop", StopHandler),
    (r"/ltt/api/tutor/interrupt", InterruptHandler),
    (r"/ltt/api/tutor/stream", StreamHandler),
]
