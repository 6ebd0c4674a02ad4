"""The tutor service's HTTP surface (tornado). Every caller is a hub user identified by a hub token
(a learner server's ``$JUPYTERHUB_API_TOKEN`` identifies its learner) or, for the dashboard, the
OAuth cookie of a browser login. Learners reach: the policy, producing a hint/answer for themselves,
reporting their own errors and runs, and their own records. Instructors (the instructor scope or
group) reach every learner's records, the dashboard, its live stream and the CSV export.

POSTs are token-only (a browser cookie cannot spend a learner's budget from another site).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from ..handlers.base import parse_json_object
from ..llm import LLMError
from ..store import Message
from ..tutor.engines import Output
from . import dashboard
from .protocol import MAX_BODY_BYTES, PayloadError, checked_path, job_from_payload, lesson_of

REPORT_TYPES = ("error", "fixed", "busy", "idle")


class ServiceHandler(HubOAuthenticated, web.RequestHandler):
    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, auth):  # HubAuthenticated's setter; ours comes from the settings
        pass

    @property
    def service(self):
        return self.settings["service"]

    async def prepare(self):
        # identify the caller without blocking the loop (get_current_user then reads the cache)
        await self.hub_auth.get_user(self, sync=False)

    def get_login_url(self):
        raise web.HTTPError(403, "a hub token is required")

    def check_xsrf_cookie(self):
        """POSTs must carry a token (checked in :meth:`user`); no cookie-authenticated writes."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": reason}))

    def user(self, *, token_only: bool = False) -> dict:
        model = self.current_user
        if not model:
            raise web.HTTPError(403, "a hub token with access to this service is required")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "only hub users (learners, instructors) may use the tutor service")
        if token_only and not getattr(self, "_token_authenticated", False):
            raise web.HTTPError(403, "this endpoint takes a hub token (Authorization: token …), not a cookie")
        return model

    def is_instructor(self, model: dict) -> bool:
        svc = self.service
        if svc.instructor_scope and self.hub_auth.check_scopes({svc.instructor_scope}, model):
            return True
        return bool(set(model.get("groups") or ()) & set(svc.instructor_groups))

    def instructor(self) -> dict:
        model = self.user()
        if not self.is_instructor(model):
            raise web.HTTPError(403, f"{model['name']} is not an instructor of this course")
        return model

    def json_body(self) -> dict:
        return parse_json_object(self.request.body, MAX_BODY_BYTES)

    def filters(self) -> dict[str, Any]:
        args = {
            k: self.get_query_argument(k, None) for k in ("learner", "notebook", "lesson", "ename", "kind")
        }
        since = self.get_query_argument("since", None)
        try:
            since_f = float(since) if since else None
        except ValueError:
            raise web.HTTPError(400, "'since' must be a number") from None
        kinds = tuple(args["kind"].split(",")) if args["kind"] else None
        return {
            "learner": args["learner"] or None,
            "notebook": args["notebook"] or None,
            "lesson": args["lesson"],
            "ename": args["ename"] or None,
            "kinds": kinds,
            "since": since_f,
        }


class PolicyHandler(ServiceHandler):
    async def get(self):
        model = self.user()
        policy = dict(self.service.policy())
        policy["user"] = model["name"]
        policy["instructor"] = self.is_instructor(model)
        self.finish(policy)


class ProduceHandler(ServiceHandler):
    """Stream a hint or an answer for the calling learner, as NDJSON lines:
    ``start`` (model, level, record id), ``delta`` (text), ``notice`` (text), then ``done`` or
    ``error`` (reason: the learner's server falls back to its built-in tutor)."""

    _task: asyncio.Task | None = None

    def on_connection_close(self):
        if self._task is not None:
            self._task.cancel()  # the learner pressed stop, or their server went away

    async def post(self):
        learner = self.user(token_only=True)["name"]
        svc = self.service
        try:
            job, meta = job_from_payload(self.json_body(), history_executions=svc.history_executions)
        except PayloadError as e:
            raise web.HTTPError(400, str(e)) from None
        if not svc.model:
            raise web.HTTPError(503, "no LLM is configured for this course")
        if svc.consent_required and not meta["consent"]:
            raise web.HTTPError(
                403, "this course sends notebooks to the AI tutor only with the learner's consent"
            )
        signature = None
        if job.focus is not None and job.focus.error is not None:
            signature = job.focus.error.signature(job.focus.code)
        if job.kind == "hint" and signature is not None:
            # the ladder: one rung above the last hint this learner got for this error, never more
            shown = await svc.store.max_level(learner, meta["file_id"], signature)
            job.level = min(job.level, 1 if shown is None else min(shown + 1, 3))
        limit = await svc.spending.admit(learner)
        if limit:
            raise web.HTTPError(429, limit)
        job.learner = learner
        job.notes = svc.notes(meta["path"])
        err = job.focus.error if job.focus is not None else None
        record = await svc.store.add_record(
            learner=learner,
            file_id=meta["file_id"],
            path=meta["path"],
            lesson=lesson_of(meta["path"]),
            kind=job.kind,
            level=job.level if job.kind == "hint" else None,
            ename=err.ename if err else None,
            evalue=err.evalue[:2000] if err else None,
            signature=signature,
            cell_id=meta["cell_id"],
            question=job.question if job.kind == "answer" else job.request,
            engine="llm",
            model=svc.model,
            status="streaming",
        )
        svc.changed({"type": "record", "kind": job.kind})
        self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self._send({"type": "start", "record": record["id"], "model": svc.model, "level": job.level})
        reply = Message(meta["path"], "tutor", job.kind, cell_id=meta["cell_id"], level=job.level)

        async def notice(text: str) -> None:
            self._send({"type": "notice", "text": text})

        def write(text: str) -> None:
            if text:
                reply.text += text
                self._send({"type": "delta", "text": text})

        out = Output(reply, write, notice)
        status = "done"
        self._task = asyncio.ensure_future(svc.llm_engine.produce(job, out))
        try:
            await self._task
            self._send(
                {
                    "type": "done",
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                }
            )
        except LLMError as e:
            status = "error"
            svc.log.warning("ltt tutor service: LLM failed for %s (%s)", learner, e.reason)
            self._send({"type": "error", "reason": e.reason})
        except asyncio.CancelledError:
            status = "stopped"
        finally:
            await svc.store.update_record(
                record["id"],
                text=reply.text,
                status=status,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
            )
            svc.changed({"type": "record", "kind": job.kind})
        if status != "stopped":
            self.finish()

    def _send(self, event: dict) -> None:
        if self.request.connection is None or self._finished:
            return
        self.write(json.dumps(event) + "\n")
        fut = self.flush()
        fut.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)


class ReportHandler(ServiceHandler):
    """A learner server reports an error (family and message, no code), a fix, or a long run."""

    async def post(self):
        learner = self.user(token_only=True)["name"]
        svc = self.service
        body = self.json_body()
        kind = body.get("type")
        if kind not in REPORT_TYPES:
            raise web.HTTPError(400, f"'type' must be one of {', '.join(REPORT_TYPES)}")
        try:
            path = checked_path(str(body.get("path") or ""))
        except PayloadError as e:
            raise web.HTTPError(400, str(e)) from None
        file_id = str(body.get("file_id") or path)[:255]
        if kind in ("busy", "idle"):
            since = body.get("since") if kind == "busy" else None
            if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
                raise web.HTTPError(400, "'since' must be a number")
            # a learner's clock is not trusted into the future
            since = min(float(since), time.time()) if since is not None else None
            await svc.store.set_activity(learner, file_id, path, since)
        elif svc.record_errors:
            cell_id = body.get("cell_id")
            await svc.store.add_record(
                learner=learner,
                file_id=file_id,
                path=path,
                lesson=lesson_of(path),
                kind=kind,
                ename=str(body.get("ename") or "Error")[:200] if kind == "error" else None,
                evalue=str(body.get("evalue") or "")[:500] if kind == "error" else None,
                signature=str(body.get("signature") or "")[:64] or None,
                cell_id=str(cell_id)[:200] if cell_id else None,
            )
        svc.changed({"type": kind})
        self.set_status(204)
        self.finish()


class RecordsHandler(ServiceHandler):
    """A learner's own records; an instructor's pick of anyone's (``?learner=``)."""

    async def get(self):
        model = self.user()
        f = self.filters()
        if not self.is_instructor(model):
            if f["learner"] not in (None, model["name"]):
                raise web.HTTPError(403, "learners can read their own records only")
            f["learner"] = model["name"]
        rows = await self.service.store.records(limit=1000, **f)
        self.finish({"records": rows})


class SummaryHandler(ServiceHandler):
    async def get(self):
        self.instructor()
        svc = self.service
        f = self.filters()
        rows = await svc.store.records(**f)
        act = await svc.store.activity(f["learner"])
        if f["notebook"]:
            act = [a for a in act if f["notebook"] in (a["path"], a["file_id"])]
        if f["lesson"]:
            act = [a for a in act if lesson_of(a["path"]) == f["lesson"]]
        data = dashboard.summary(
            rows,
            act,
            time.time(),
            stuck_errors=svc.stuck_errors,
            stuck_window=svc.stuck_window,
            long_run=svc.long_run,
        )
        self.finish(data)


class ExportHandler(ServiceHandler):
    async def get(self):
        self.instructor()
        rows = await self.service.store.records(limit=1_000_000, **self.filters())
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="ltt-tutor-records.csv"')
        self.finish(dashboard.to_csv(rows))


class StreamHandler(ServiceHandler):
    """Server-sent events: ``changed`` whenever a record or a run changes (the page then fetches)."""

    async def get(self) -> None:
        self.instructor()
        svc = self.service
        q: asyncio.Queue[dict | None] = asyncio.Queue(maxsize=100)
        svc.listeners.add(q)
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            self.write("retry: 3000\n: hello\n\n")
            await self.flush()
            while True:
                try:
                    event = await asyncio.wait_for(q.get(), 25)
                except asyncio.TimeoutError:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    continue
                if event is None:
                    break
                self.write(f"event: changed\ndata: {json.dumps(event)}\n\n")
                await self.flush()
        except StreamClosedError:
            pass
        finally:
            svc.listeners.discard(q)


class DashboardHandler(ServiceHandler):
    """The instructor's page (a browser: redirect to the hub's login when needed)."""

    def get_login_url(self):
        return HubOAuthenticated.get_login_url(self)

    @web.authenticated
    async def get(self):
        model = self.current_user
        if not self.is_instructor(model):
            self.set_status(403)
            self.render("forbidden.html", user=model["name"], service=self.service.service_name)
            return
        svc = self.service
        self.render(
            "dashboard.html",
            user=model["name"],
            service=svc.service_name,
            prefix=svc.prefix,
            hub_prefix=self.hub_auth.hub_prefix,
            hub_home=url_path_join(self.hub_auth.hub_prefix, "home"),
            policy=svc.policy(),
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code}: {self._reason}")
