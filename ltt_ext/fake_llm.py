"""A real OpenAI-compatible HTTP server on 127.0.0.1 (tornado), for tests and benchmarks.

``POST /v1/chat/completions`` streamed as server-sent events (``data: {...}`` chunks, then
``data: [DONE]``) or as one JSON answer; ``GET /v1/models``. Replies are scripted
(``script("first", "second")``, else ``default_reply``), with ``delay`` before answering and
``token_delay`` between chunks, and failure modes: ``"error"`` (HTTP ``status``, 500 by default,
with ``headers``: a 429 with ``{"Retry-After": "2"}``), ``"hang"`` (never answers),
``"malformed"`` (a broken SSE chunk after the first token), ``"endless"`` (a stream that never
ends: the text again and again), ``"html"`` (a 200 with a web page instead of SSE) and
``"empty"`` (a valid stream without any content, ending with ``finish_reason``, ``"length"`` by
default). It records every request body in ``requests`` and when each arrived and got its first
token in ``timings`` (the benchmarks subtract the server's own delay).

Function calling: a reply with ``tool_calls=[{"name": ..., "arguments": {...}}]`` streams those
calls (ids, names, then the arguments' JSON in pieces, ``finish_reason: "tool_calls"``) to a request
that offers ``tools`` (and not ``tool_choice: "none"``); to any other request it answers its text.
With ``refuse_tools`` set, a request carrying ``tools`` gets an HTTP 400 naming them, as endpoints
without function calling answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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
    tool_calls: list[dict[str, Any]] | None = None  # [{"name", "arguments" (dict or JSON text), "id"?}]
    preamble: str = ""  # text streamed before the tool calls


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
    timings: list[dict[str, float | None]] = field(default_factory=list)
    refuse_tools: bool = False
    refuse_tools_status: int = 400

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
    async def post(self) -> None:
        llm = self.llm
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = {"_raw": self.request.body.decode("utf8", "replace")}
        llm.requests.append(body)
        self.timing: dict[str, float | None] = {"t_arrival": time.time(), "t_first_token": None}
        llm.timings.append(self.timing)
        if llm.refuse_tools and body.get("tools"):  # refused before any scripted reply is used
            self._refuse_tools()
            return
        reply = llm.next_reply()
        llm.active += 1
        try:
            await self._answer(body, reply)
        except StreamClosedError:
            pass  # the client went away (stop button, timeout)
        finally:
            llm.active -= 1

    def _refuse_tools(self) -> None:
        self.set_status(self.llm.refuse_tools_status)
        self.finish(
            {
                "error": {
                    "message": "This model does not support tools.",
                    "type": "invalid_request_error",
                    "param": "tools",
                    "code": None,
                }
            }
        )

    async def _answer(self, body: dict, reply: Reply) -> None:
        llm = self.llm
        delay = llm.delay if reply.delay is None else reply.delay
        if delay:
            await asyncio.sleep(delay)
        if reply.mode == "hang":
            assert llm.release is not None  # set by serve_fake_llm before any request
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
            self.finish(
                "<!doctype html>\n<html><head><title>Sign in</title></head>\n"
                "<body><p>Please sign in to continue.</p></body></html>\n"
            )
            return
        if not body.get("stream"):
            self.timing["t_first_token"] = time.time()
            self.finish(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        token_delay = llm.token_delay if reply.token_delay is None else reply.token_delay

        async def send(obj: Any) -> None:
            self.write(f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n")
            await self.flush()

        def chunk(delta: dict, finish=None) -> dict:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        if reply.tool_calls and body.get("tools") and body.get("tool_choice") != "none":
            await self._stream_tool_calls(reply, send, chunk, body, usage, created, model)
            return
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
            if i == 0:
                self.timing["t_first_token"] = time.time()
            if token_delay:
                await asyncio.sleep(token_delay)
            elif reply.mode == "endless" and i % 50 == 0:
                await asyncio.sleep(0)  # let the client (same event loop in tests) read
        await send(chunk({}, reply.finish_reason or "stop"))
        await self._end_stream(send, body, usage, created, model)

    async def _end_stream(self, send, body, usage, created, model) -> None:
        """The usage chunk (when the request asked for it), then ``[DONE]``."""
        if (body.get("stream_options") or {}).get("include_usage"):
            await send(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        await send("[DONE]")
        self.finish()

    async def _stream_tool_calls(self, reply: Reply, send, chunk, body, usage, created, model) -> None:
        self.timing["t_first_token"] = time.time()
        await send(chunk({"role": "assistant", "content": ""}))
        for tok in _tokens(reply.preamble) if reply.preamble else []:
            await send(chunk({"content": tok}))
        for i, call in enumerate(reply.tool_calls or []):
            args = call.get("arguments", {})
            text = args if isinstance(args, str) else json.dumps(args)
            head = {
                "index": i,
                "id": call.get("id") or f"call_{i}_{int(time.time() * 1000)}",
                "type": "function",
            }
            await send(chunk({"tool_calls": [{**head, "function": {"name": call["name"], "arguments": ""}}]}))
            step = max(1, len(text) // 3)
            for k in range(0, len(text), step):  # the arguments arrive in pieces, as real servers send them
                await send(
                    chunk({"tool_calls": [{"index": i, "function": {"arguments": text[k : k + step]}}]})
                )
        await send(chunk({}, "tool_calls"))
        await self._end_stream(send, body, usage, created, model)


def fake_llm_app(llm: FakeLLM) -> web.Application:
    return web.Application(
        [
            (r"/v1/chat/completions", ChatHandler, {"llm": llm}),
            (r"/v1/models", ModelsHandler, {"llm": llm}),
        ]
    )


async def serve_fake_llm(llm: FakeLLM, host: str = "127.0.0.1") -> HTTPServer:
    """Start serving ``llm`` on a free port of ``host``; sets ``llm.base_url``."""
    sockets = bind_sockets(0, host)
    llm.base_url = f"http://{host}:{sockets[0].getsockname()[1]}/v1"
    llm.release = asyncio.Event()
    server = HTTPServer(fake_llm_app(llm))
    server.add_sockets(sockets)
    return server


async def stop_fake_llm(llm: FakeLLM, server: HTTPServer) -> None:
    if llm.release is not None:
        llm.release.set()
    server.stop()
    await asyncio.sleep(0)
    await server.close_all_connections()


class FakeLLMThread:
    """A :class:`FakeLLM` served from a background thread with its own event loop, for tests whose
    server runs in another process (browser tests, a real hub): start it, point the server at
    ``thread.llm.base_url``, script ``thread.llm``, ``close()`` it."""

    def __init__(self, **attrs: Any):
        import threading

        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets

        self.llm = FakeLLM(**attrs)
        sockets = bind_sockets(0, "127.0.0.1")
        self.llm.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def start() -> None:
                self.llm.release = asyncio.Event()
                self.server = HTTPServer(fake_llm_app(self.llm))
                self.server.add_sockets(sockets)

            self.loop.run_until_complete(start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="fake-llm", daemon=True)
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake LLM did not start")

    def close(self) -> None:
        async def stop() -> None:
            if self.llm.release is not None:
                self.llm.release.set()
            self.server.stop()
            await self.server.close_all_connections()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
