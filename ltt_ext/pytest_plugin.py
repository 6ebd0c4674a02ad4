"""pytest fixtures for ltt-ext and its downstream users (registered as the ``ltt_ext`` pytest11 plugin).

``ltt_fake_llm``
    A real OpenAI-compatible HTTP server on 127.0.0.1 (tornado): ``POST /v1/chat/completions``
    streamed as server-sent events (``data: {...}`` chunks, then ``data: [DONE]``) or as one JSON
    answer; ``GET /v1/models``. Replies are scripted (``script("first", "second")``, else
    ``default_reply``), with ``delay`` before answering and ``token_delay`` between chunks, and
    failure modes: ``"error"`` (HTTP ``status``, 500 by default, with ``headers``: a 429 with
    ``{"Retry-After": "2"}``), ``"hang"`` (never answers), ``"malformed"`` (a broken SSE chunk after
    the first token), ``"endless"`` (a stream that never ends: the text again and again),
    ``"html"`` (a 200 with a web page instead of SSE) and ``"empty"`` (a valid stream without
    any content, ending with ``finish_reason``, ``"length"`` by default). It records every
    request body in ``requests``.

``ltt_tutor_config`` / ``ltt_tutored_server_config``
    Configuration of a tutor pointing at the fake LLM, and a whole ``jp_server_config`` enabling
    ltt-ext with it. Use it in your tests with pytest-jupyter::

        @pytest.fixture
        def jp_server_config(ltt_tutored_server_config):
            return ltt_tutored_server_config

Only tornado is imported at plugin load: the plugin is active in every pytest run of an
environment where ltt-ext is installed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets

MODES = ("ok", "error", "hang", "malformed", "endless", "html", "empty")


@dataclass
class Reply:
    """One scripted answer. ``mode`` is one of :data:`MODES`."""

    text: str = "Look closely at the line the arrow points to."
    mode: str = "ok"
    status: int = 500
    delay: float | None = None
    token_delay: float | None = None
    usage: dict[str, int] | None = None
    error_message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = None


@dataclass
class FakeLLM:
    """State of the fake OpenAI-compatible server; mutate it from tests."""

    base_url: str = ""
    default_reply: str = "Look closely at the line the arrow points to."
    mode: str = "ok"
    delay: float = 0.0
    token_delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: deque = field(default_factory=deque)
    release: asyncio.Event | None = None
    active: int = 0

    def script(self, *replies: str | Reply) -> None:
        """Queue replies for the next requests (then ``default_reply``/``mode`` again)."""
        self.replies.extend(r if isinstance(r, Reply) else Reply(text=r) for r in replies)

    def next_reply(self) -> Reply:
        if self.replies:
            return self.replies.popleft()
        return Reply(text=self.default_reply, mode=self.mode)

    @property
    def prompts(self) -> list[str]:
        """Each request's messages joined into one text (what the model 'saw')."""
        return ["\n\n".join(str(m.get("content", "")) for m in r.get("messages", [])) for r in self.requests]

    async def wait_for_requests(self, n: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fake LLM got {len(self.requests)} requests, expected {n}")
            await asyncio.sleep(0.02)
        return self.requests


def _tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*", text) or [text]


def _forever(tokens: list[str]):
    while True:
        yield from tokens


class _Base(web.RequestHandler):
    def initialize(self, llm: FakeLLM):
        self.llm = llm

    def check_xsrf_cookie(self):
        pass


class ModelsHandler(_Base):
    def get(self):
        self.finish({"object": "list", "data": [{"id": "fake-tutor", "object": "model", "owned_by": "ltt"}]})


class ChatHandler(_Base):
    async def post(self):
        llm = self.llm
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = {"_raw": self.request.body.decode("utf8", "replace")}
        llm.requests.append(body)
        reply = llm.next_reply()
        llm.active += 1
        try:
            await self._answer(body, reply)
        except StreamClosedError:
            pass  # the client went away (stop button, timeout)
        finally:
            llm.active -= 1

    async def _answer(self, body: dict, reply: Reply) -> None:
        llm = self.llm
        delay = llm.delay if reply.delay is None else reply.delay
        if delay:
            await asyncio.sleep(delay)
        if reply.mode == "hang":
            await llm.release.wait()
            return
        if reply.mode == "error":
            self.set_status(reply.status)
            for k, v in reply.headers.items():
                self.set_header(k, v)
            self.finish({"error": {"message": reply.error_message, "type": "server_error", "code": None}})
            return
        model = body.get("model", "fake-tutor")
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages", []))
        usage = reply.usage or {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(_tokens(reply.text)),
            "total_tokens": prompt_tokens + len(_tokens(reply.text)),
        }
        created = int(time.time())
        if reply.mode == "html":  # e.g. a captive portal or a reverse proxy's error page, with 200
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish("<!doctype html>\n<html><head><title>Sign in</title></head>\n"
                        "<body><p>Please sign in to continue.</p></body></html>\n")
            return
        if not body.get("stream"):
            self.finish({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                             "finish_reason": "stop"}],
                "usage": usage,
            })
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        token_delay = llm.token_delay if reply.token_delay is None else reply.token_delay

        async def send(obj: Any) -> None:
            self.write(f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n")
            await self.flush()

        def chunk(delta: dict, finish=None) -> dict:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        if reply.mode == "empty":  # e.g. a reasoning model that spent max_tokens thinking
            await send(chunk({"role": "assistant", "content": ""}))
            await send(chunk({}, reply.finish_reason or "length"))
            await send("[DONE]")
            self.finish()
            return
        tokens = _tokens(reply.text)
        if reply.mode == "endless":
            tokens = _forever(tokens)
        for i, tok in enumerate(tokens):
            if reply.mode == "malformed" and i == 1:
                await send('{"id": "chatcmpl-fake", "choices": [{"delta": {"content": "bro')
                self.finish()
                return
            await send(chunk({"role": "assistant", "content": tok} if i == 0 else {"content": tok}))
            if token_delay:
                await asyncio.sleep(token_delay)
            elif reply.mode == "endless" and i % 50 == 0:
                await asyncio.sleep(0)  # let the client (same event loop in tests) read
        await send(chunk({}, reply.finish_reason or "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
                        "model": model, "choices": [], "usage": usage})
        await send("[DONE]")
        self.finish()


def fake_llm_app(llm: FakeLLM) -> web.Application:
    return web.Application([
        (r"/v1/chat/completions", ChatHandler, {"llm": llm}),
        (r"/v1/models", ModelsHandler, {"llm": llm}),
    ])


@pytest.fixture
def ltt_fake_llm(jp_asyncio_loop):
    """A running fake OpenAI-compatible server; ``.base_url`` ends in ``/v1``."""
    llm = FakeLLM()
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    llm.base_url = f"http://127.0.0.1:{port}/v1"

    async def start() -> HTTPServer:
        llm.release = asyncio.Event()
        server = HTTPServer(fake_llm_app(llm))
        server.add_sockets(sockets)
        return server

    server = jp_asyncio_loop.run_until_complete(start())
    yield llm

    async def stop() -> None:
        llm.release.set()
        server.stop()
        await asyncio.sleep(0)
        await server.close_all_connections()

    if not jp_asyncio_loop.is_closed():
        jp_asyncio_loop.run_until_complete(stop())


@pytest.fixture
def ltt_tutor_config(ltt_fake_llm, tmp_path) -> dict:
    """``c.Tutor`` settings for a tutor that uses the fake LLM, fast timers, and a temp store."""
    return {
        "model": "fake-tutor",
        "base_url": ltt_fake_llm.base_url,
        "api_key": "sk-test-secret-key",
        "timeout": 5.0,
        "max_retries": 0,
        "db_path": str(tmp_path / "ltt_tutor.sqlite"),
        "proactive_delay": 0.05,
        "proactive_interval": 0.0,
        "requests_per_minute": 0,
        "tokens_per_hour": 0,
    }


@pytest.fixture
def ltt_tutored_server_config(ltt_tutor_config, tmp_path) -> dict:
    """A whole ``jp_server_config``: ltt-ext + jupyter-server-documents, the tutor on the fake LLM."""
    return {
        "ServerApp": {"jpserver_extensions": {
            "ltt_ext": True, "jupyter_server_documents": True, "jupyter_server_fileid": True}},
        "BaseFileIdManager": {"db_path": str(tmp_path / "file_id_manager.db")},
        "Tutor": dict(ltt_tutor_config),
    }


@pytest.fixture
def ltt_tutor(jp_serverapp):
    """The running server's :class:`~ltt_ext.tutor.service.Tutor`."""
    return jp_serverapp.web_app.settings["ltt_tutor"]


class TutoredNotebook:
    """A notebook on disk with a live session (kernel + jupyter-server-documents room)."""

    def __init__(self, fetch, serverapp, path: str, kernel_id: str, session_id: str, cells: dict[str, str]):
        self.fetch, self.serverapp = fetch, serverapp
        self.path, self.kernel_id, self.session_id, self.cells = path, kernel_id, session_id, cells

    @property
    def room_id(self) -> str:
        return f"json:notebook:{self.serverapp.web_app.settings['file_id_manager'].index(self.path)}"

    async def run_cell(self, cell_id: str) -> None:
        """Execute a cell the way jupyter-server-documents' front end does (REST, no browser)."""
        from jupyter_server_documents.rooms.ynotebook_room import _source_hash

        body = {"document_id": self.room_id,
                "cells": [{"cell_id": cell_id, "source_hash": _source_hash(self.cells[cell_id])}]}
        await self.fetch("api", "kernels", self.kernel_id, "execute", method="POST", body=json.dumps(body))


@pytest.fixture
def ltt_notebook(jp_fetch, jp_serverapp, jp_root_dir):
    """Factory: ``await ltt_notebook("lesson.ipynb", {"c1": "x = 1", "c2": "print(y)"})``."""

    async def make(path: str, cells: dict[str, str]) -> TutoredNotebook:
        import nbformat

        nb = nbformat.v4.new_notebook()
        for cid, src in cells.items():
            cell = nbformat.v4.new_code_cell(src)
            cell["id"] = cid
            nb.cells.append(cell)
        target = jp_root_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        r = await jp_fetch("api", "sessions", method="POST", body=json.dumps({
            "path": path, "name": path.rsplit("/", 1)[-1], "type": "notebook", "kernel": {"name": "python3"}}))
        model = json.loads(r.body)
        return TutoredNotebook(jp_fetch, jp_serverapp, path, model["kernel"]["id"], model["id"], cells)

    return make
