"""A tiny OpenAI-compatible streaming server (POST /v1/chat/completions, SSE) on 127.0.0.1.

It waits `delay` seconds after a request arrives, then streams the reply word by word
(`token_delay` between chunks), then `data: [DONE]`.  It records when each request arrived and
when its first token was written, so the benchmark can subtract the server's own delay.
"""
from __future__ import annotations

import asyncio
import json
import time

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

REPLY = "Look at the line the arrow points to: what is the value of the divisor there?"


class _Chat(web.RequestHandler):
    def initialize(self, state):
        self.state = state

    def check_xsrf_cookie(self):
        pass

    async def post(self):
        st = self.state
        t_arrival = time.time()
        body = json.loads(self.request.body or b"{}")
        rec = {"t_arrival": t_arrival, "t_first_token": None, "stream": bool(body.get("stream"))}
        st["requests"].append(rec)
        await asyncio.sleep(st["delay"])
        words = REPLY.split(" ")
        created = int(time.time())
        if not body.get("stream"):
            rec["t_first_token"] = time.time()
            self.finish({"id": "x", "object": "chat.completion", "created": created, "model": "bench",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10 + len(words)}})
            return
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for i, w in enumerate(words):
            tok = w if i == 0 else " " + w
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": created, "model": "bench",
                     "choices": [{"index": 0, "delta": ({"role": "assistant", "content": tok} if i == 0
                                                        else {"content": tok}), "finish_reason": None}]}
            self.write(f"data: {json.dumps(chunk)}\n\n")
            await self.flush()
            if i == 0:
                rec["t_first_token"] = time.time()
            if st["token_delay"]:
                await asyncio.sleep(st["token_delay"])
        done = {"id": "x", "object": "chat.completion.chunk", "created": created, "model": "bench",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.write(f"data: {json.dumps(done)}\n\n")
        usage = {"id": "x", "object": "chat.completion.chunk", "created": created, "model": "bench",
                 "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(words),
                                          "total_tokens": 10 + len(words)}}
        self.write(f"data: {json.dumps(usage)}\n\n")
        self.write("data: [DONE]\n\n")
        self.finish()


class _Models(web.RequestHandler):
    def get(self):
        self.finish({"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]})


class FakeLLM:
    def __init__(self, delay: float = 0.2, token_delay: float = 0.01):
        self.state = {"delay": delay, "token_delay": token_delay, "requests": []}
        self.server: HTTPServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def delay(self) -> float:
        return self.state["delay"]

    @property
    def requests(self) -> list:
        return self.state["requests"]

    def start(self) -> None:
        socks = bind_sockets(0, "127.0.0.1")
        self.port = socks[0].getsockname()[1]
        app = web.Application([(r"/v1/chat/completions", _Chat, {"state": self.state}),
                               (r"/v1/models", _Models)])
        self.server = HTTPServer(app)
        self.server.add_sockets(socks)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            try:
                await asyncio.wait_for(self.server.close_all_connections(), 5)
            except Exception:
                pass
            self.server = None
