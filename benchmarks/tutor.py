"""Tutor benchmark: latency from a cell's error to the tutor's hint reaching a websocket
subscriber of /ltt/api/tutor/stream?path=<nb> (built-in engine, or a local streaming LLM)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.parse
from datetime import datetime

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .headless import create_notebook_session
from .wsclient import KernelClient


def _kernel_time(header: dict) -> float | None:
    try:
        return datetime.fromisoformat(header["date"].replace("Z", "+00:00")).timestamp()
    except Exception:
        return None


class TutorStream:
    def __init__(self, server, path: str):
        self.server, self.path = server, path
        self.events: list[tuple[float, dict]] = []
        self.new = asyncio.Event()
        self.conn = None

    async def connect(self, timeout: float = 15.0) -> None:
        url = f"{self.server.ws_base}/ltt/api/tutor/stream?path={urllib.parse.quote(self.path)}"
        req = HTTPRequest(
            url, headers=self.server.headers(), connect_timeout=timeout, request_timeout=timeout
        )
        self.conn = await asyncio.wait_for(websocket_connect(req, on_message_callback=self._on), timeout)

    def _on(self, msg) -> None:
        if msg is None:
            return
        try:
            self.events.append((time.time(), json.loads(msg)))
            self.new.set()
        except ValueError:
            pass

    async def wait_for(self, pred, start: int, timeout: float):
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.events):
                t, ev = self.events[i]
                i += 1
                if pred(ev):
                    return t, ev
            rem = deadline - time.monotonic()
            if rem <= 0:
                return None, None
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), rem)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


async def hint_latency(
    server, samples: int = 5, llm=None, timeout: float = 30.0, debounce: float | None = None
) -> dict:
    """Run a failing cell `samples` times; for each, time from the kernel's `error` to the hint
    (built-in: the hint message; LLM: its first forwarded `delta`) at a tutor-stream subscriber."""
    path = "b.ipynb"
    cell_id = "bench-error-cell"
    source = "x = 0\n1 / x"
    session = await create_notebook_session(server, path, source, cell_id)
    kid = session["kernel"]["id"]
    client = KernelClient(server, kid)
    stream = TutorStream(server, path)
    rows = []
    try:
        await client.connect()
        await stream.connect()
        # warm-up: kernel ready, session known to the tutor
        run = client.execute("pass", cell_id=cell_id)
        await asyncio.wait_for(run.done.wait(), 60)
        await asyncio.sleep(0.5)
        for _ in range(samples):
            start = len(stream.events)
            n_req = len(llm.timings) if llm else 0
            run = client.execute(source, cell_id=cell_id)
            await asyncio.wait_for(run.done.wait(), 30)
            if not run.errors:
                rows.append({"error": "the cell did not raise"})
                continue
            t_err_ws_perf, _content, header = run.errors[0]
            t_err_kernel = _kernel_time(header)
            # wall-clock time of the error's arrival at our kernel websocket
            t_err_ws = time.time() - (time.perf_counter() - t_err_ws_perf)
            t_hint, hint = await stream.wait_for(
                lambda ev: ev.get("type") == "message" and (ev.get("message") or {}).get("kind") == "hint",
                start,
                timeout,
            )
            row = {
                "t_hint_msg_after_error": (t_hint - t_err_ws) if t_hint else None,
                "kernel_to_ws": (t_err_ws - t_err_kernel) if t_err_kernel else None,
            }
            if t_hint and t_err_kernel:
                row["t_hint_msg_after_kernel_error"] = t_hint - t_err_kernel
            if hint:
                msg = hint["message"]
                row["engine"] = msg.get("engine")
                row["status"] = msg.get("status")
                if llm is not None:
                    hid = msg.get("id")
                    t_delta, _ = await stream.wait_for(
                        lambda ev, hid=hid: ev.get("type") == "delta" and ev.get("id") == hid, start, timeout
                    )
                    row["t_first_token_after_error"] = (t_delta - t_err_ws) if t_delta else None
                    if len(llm.timings) > n_req:
                        req = llm.timings[n_req]
                        row["t_llm_request_after_error"] = req["t_arrival"] - t_err_ws
                        if t_delta and req["t_first_token"]:
                            row["forward_first_token"] = t_delta - req["t_first_token"]
                    if t_delta:
                        row["first_token_minus_llm_delay"] = t_delta - t_err_ws - llm.delay
                    # let the reply finish before the next sample
                    await stream.wait_for(
                        lambda ev, hid=hid: (
                            ev.get("type") == "update"
                            and (ev.get("message") or {}).get("id") == hid
                            and (ev.get("message") or {}).get("status") != "streaming"
                        ),
                        start,
                        timeout,
                    )
            rows.append(row)
            await asyncio.sleep(0.3)
    finally:
        client.close()
        stream.close()
        try:
            await server.request("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        except Exception:
            pass

    # the first LLM sample also pays for creating the HTTP client and connection: report it apart
    cold = rows[0] if (llm is not None and len(rows) > 1) else None
    warm = rows[1:] if cold is not None else rows

    def med(key):
        vals = [r[key] for r in warm if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    out = {
        "samples": rows,
        "cold_sample": cold,
        "n_ok": sum(1 for r in warm if r.get("t_hint_msg_after_error") is not None),
        "median_hint_after_error": med("t_hint_msg_after_error"),
        "median_hint_after_kernel_error": med("t_hint_msg_after_kernel_error"),
        "debounce": debounce,
    }
    if debounce is not None and out["median_hint_after_error"] is not None:
        out["median_hint_minus_debounce"] = out["median_hint_after_error"] - debounce
    if llm is not None:
        out.update(
            {
                "llm_delay": llm.delay,
                "median_first_token_after_error": med("t_first_token_after_error"),
                "median_first_token_minus_llm_delay": med("first_token_minus_llm_delay"),
                "median_llm_request_after_error": med("t_llm_request_after_error"),
                "median_forward_first_token": med("forward_first_token"),
            }
        )
        if debounce is not None and out["median_first_token_minus_llm_delay"] is not None:
            out["median_first_token_minus_llm_delay_and_debounce"] = (
                out["median_first_token_minus_llm_delay"] - debounce
            )
    return out
