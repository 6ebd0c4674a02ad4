"""The course's tutor service as an engine: LLM-bound work goes to the JupyterHub service.

In a single-user server under JupyterHub, the learner owns the process: its environment, command line
and files. So the LLM key, the course policy and the instructor notes live in the hub service
(``ltt-tutor-service``, :mod:`ltt_ext.hub`), and this server sends it *structured context*
(:func:`ltt_ext.hub.protocol.job_payload`) with its hub token (``$JUPYTERHUB_API_TOKEN``, which
identifies the learner). The service builds the prompt, applies its policy, budget and copy guard,
and streams the answer back as NDJSON lines, which :class:`RemoteEngine` writes into the reply.

Whatever goes wrong (the service is down, slow, refuses) becomes an :class:`~ltt_ext.llm.LLMError`
or a notice, and the built-in tutor answers: the panel degrades, it never waits forever.

:class:`HubTutorService` also reports, fire-and-forget, what the instructor dashboard shows: each
error's family and message (no code), a cell that ran fine after failing, and cells that keep
running (after ``busy_after`` seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from ...hub.protocol import error_report, job_payload
from ...llm import LLMError
from ..context import Execution
from . import Job, Output
from .offline import OfflineEngine

DEFAULT_SERVICE = "ltt-tutor"
POLICY_MAX_AGE = 60.0


class ServiceRefused(Exception):
    """The service said no for a reason the learner should read (budget, consent)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _message(response_body: bytes, status: int) -> str:
    try:
        return str(json.loads(response_body).get("message") or f"HTTP {status}")
    except (ValueError, AttributeError):
        return f"HTTP {status}"


class HubTutorService:
    """Finds the service through the hub API, reads its policy, streams answers, sends reports."""

    def __init__(
        self,
        name: str,
        *,
        explicit: bool,
        api_url: str,
        token: str,
        url: str = "",
        busy_after: float = 10.0,
        read_timeout: float = 120.0,
        log: logging.Logger | None = None,
    ):
        self.name = name
        self.explicit = explicit  # named in the config: never fall back to this server's own LLM settings
        self.api_url = api_url.rstrip("/") + "/"
        self._token = token
        self.base: str | None = (url.rstrip("/") + "/") if url else None
        self.busy_after = busy_after
        self.log = log or logging.getLogger(__name__)
        self.policy: dict[str, Any] | None = None
        self.policy_at = 0.0
        self.available = False
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=read_timeout),
            headers={"Authorization": f"token {token}"},
            trust_env=False,  # 127.0.0.1 / cluster-internal: never through a proxy from the environment
        )
        self._tasks: set[asyncio.Task] = set()
        self._busy: dict[str, tuple[float, str, asyncio.Task | None, bool]] = {}
        self._failed: dict[str, str | None] = {}  # file id + cell id of errors not yet fixed

    @classmethod
    def from_environment(cls, setting: str, url: str, log: logging.Logger, **kw) -> HubTutorService | None:
        """The service to use, or None: not under JupyterHub, or ``c.Tutor.hub_service = ""``."""
        api_url = os.environ.get("JUPYTERHUB_API_URL")
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        if not setting or not api_url or not token:
            return None
        explicit = setting != "auto"
        return cls(
            setting if explicit else DEFAULT_SERVICE,
            explicit=explicit,
            api_url=api_url,
            token=token,
            url=url,
            log=log,
            **kw,
        )

    # -- discovery and policy -----------------------------------------------------------------------
    async def resolve(self) -> bool:
        """Find the service's URL (the hub's service model, unless configured) and read its policy."""
        if self.base is None:
            try:
                r = await self._client.get(self.api_url + "services/" + quote(self.name))
            except (httpx.HTTPError, RuntimeError) as e:  # RuntimeError: closed meanwhile
                self.log.warning("ltt tutor: the hub API is unreachable (%s)", type(e).__name__)
                return False
            if r.status_code != 200:
                if self.explicit:
                    self.log.warning(
                        "ltt tutor: the hub does not show service %r to this server (HTTP %d); give learners "
                        "read:services!service=%s or set c.Tutor.hub_service_url",
                        self.name,
                        r.status_code,
                        self.name,
                    )
                return False
            model = r.json()
            url, prefix = model.get("url") or "", model.get("prefix") or f"/services/{self.name}/"
            if not url:
                self.log.warning(
                    "ltt tutor: hub service %r has no URL; set c.Tutor.hub_service_url", self.name
                )
                return False
            self.base = url.rstrip("/") + "/" + prefix.strip("/") + "/"
        return await self.refresh_policy()

    async def refresh_policy(self) -> bool:
        if self.base is None:
            return False
        try:
            r = await self._client.get(self.base + "api/policy")
        except (httpx.HTTPError, RuntimeError) as e:
            self.log.warning("ltt tutor: the course's tutor service is unreachable (%s)", type(e).__name__)
            self.available = False
            return False
        if r.status_code != 200:
            self.log.warning("ltt tutor: the course's tutor service answered HTTP %d", r.status_code)
            self.available = False
            return False
        self.policy, self.policy_at, self.available = r.json(), time.monotonic(), True
        return True

    def stale(self) -> bool:
        return time.monotonic() - self.policy_at > POLICY_MAX_AGE

    @property
    def llm(self) -> bool:
        """Whether LLM work goes to the service: its policy says so, or it is unknown (try, then fall back)."""
        return self.policy is None or self.policy.get("engine") == "llm"

    @property
    def consent_required(self) -> bool:
        return bool(self.policy and self.policy.get("consent_required"))

    @property
    def model(self) -> str | None:
        return self.policy.get("model") if self.policy else None

    def info(self) -> dict[str, Any]:
        p = self.policy or {}
        return {
            "engine": "llm" if self.llm else "builtin",
            "model": p.get("model"),
            "allow_solutions": bool(p.get("allow_solutions", False)),
            "consent_required": self.consent_required,
            "service": self.name,
            "service_available": self.available,
            "tokens_per_hour": p.get("tokens_per_hour"),
            "requests_per_minute": p.get("requests_per_minute"),
        }

    # -- answers --------------------------------------------------------------------------------------
    async def produce(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The service's events for one job; :class:`ServiceRefused` or :class:`LLMError` when it fails."""
        if self.base is None and not await self.resolve():
            raise LLMError("the course's tutor service cannot be found")
        assert self.base is not None
        try:
            async with self._client.stream("POST", self.base + "api/tutor/produce", json=body) as r:
                if r.status_code in (403, 429):
                    raise ServiceRefused(r.status_code, _message(await r.aread(), r.status_code))
                if r.status_code != 200:
                    await r.aread()
                    raise LLMError(f"the course's tutor service answered HTTP {r.status_code}")
                self.available = True
                async for line in r.aiter_lines():
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except ValueError:
                            raise LLMError("the course's tutor service sent an unreadable answer") from None
        except (httpx.HTTPError, RuntimeError) as e:
            self.available = False
            raise LLMError("the course's tutor service could not be reached") from e

    # -- reports for the instructor dashboard ---------------------------------------------------------
    def report(self, event: dict[str, Any]) -> None:
        """Send a report in the background; a failure is logged at debug level and forgotten."""
        if self.base is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._post(event))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, event: dict[str, Any]) -> None:
        try:
            await self._client.post(str(self.base) + "api/tutor/events", json=event)
        except Exception:  # a report is never worth an error (the service down, the client closed)
            self.log.debug("ltt tutor: report not sent to the tutor service", exc_info=True)

    def execution(self, ex: Execution, path: str, file_id: str | None) -> None:
        """A finished execution: report its error, or that a cell which failed now runs."""
        key = file_id or path
        if ex.error is not None:
            self._failed[f"{key}\0{ex.cell_id}"] = ex.cell_id
            self.report(error_report(ex, path, file_id))
        elif self._failed.pop(f"{key}\0{ex.cell_id}", 0) != 0:
            self.report({"type": "fixed", "path": path, "file_id": key, "cell_id": ex.cell_id})

    def kernel_state(self, path: str, file_id: str | None, state: str) -> None:
        """Report a notebook whose cell runs longer than ``busy_after`` (and when it stops)."""
        key = file_id or path
        if state == "busy":
            if key not in self._busy:
                since = time.time()
                task = None
                try:
                    task = asyncio.get_running_loop().create_task(self._busy_later(key))
                except RuntimeError:
                    pass
                self._busy[key] = (since, path, task, False)
            return
        entry = self._busy.pop(key, None)
        if entry is None:
            return
        _, _, task, reported = entry
        if task is not None:
            task.cancel()
        if reported:
            self.report({"type": "idle", "path": path, "file_id": key})

    async def _busy_later(self, key: str) -> None:
        await asyncio.sleep(self.busy_after)
        entry = self._busy.get(key)
        if entry is not None:
            since, path, task, _ = entry
            self._busy[key] = (since, path, task, True)
            self.report({"type": "busy", "path": path, "file_id": key, "since": since})

    async def close(self) -> None:
        for _, _, task, _ in self._busy.values():
            if task is not None:
                task.cancel()
        self._busy.clear()
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=2)
        await self._client.aclose()


class RemoteEngine:
    """Fills a reply from the course's tutor service (see the module's docstring)."""

    name = "llm"

    def __init__(self, service: HubTutorService, offline: OfflineEngine, log: logging.Logger | None = None):
        self.service = service
        self.offline = offline
        self.log = log or logging.getLogger(__name__)

    async def produce(self, job: Job, out: Output) -> None:
        reply = out.reply
        reply.engine, reply.model = self.name, self.service.model
        # reaching this engine means the learner consented, or the course does not ask for consent
        body = job_payload(job, file_id=reply.file_id, cell_id=reply.cell_id, consent=True)
        try:
            async for event in self.service.produce(body):
                kind = event.get("type")
                if kind == "start":
                    reply.model = event.get("model") or reply.model
                    if reply.kind == "hint" and isinstance(event.get("level"), int):
                        reply.level = event["level"]
                elif kind == "delta":
                    out.write(str(event.get("text") or ""))
                elif kind == "notice":
                    await out.notice(str(event.get("text") or ""))
                elif kind == "error":
                    raise LLMError(str(event.get("reason") or "the course's tutor service failed"))
                elif kind == "done":
                    reply.prompt_tokens = int(event.get("prompt_tokens") or 0)
                    reply.completion_tokens = int(event.get("completion_tokens") or 0)
                    return
            raise LLMError("the course's tutor service stopped before the end of its answer")
        except ServiceRefused as e:
            # the course's budget or consent rule: say so, and give the offline tutor's help
            await out.notice(e.message)
            reply.engine, reply.model = self.offline.name, None
            out.write(self.offline.text(job))
