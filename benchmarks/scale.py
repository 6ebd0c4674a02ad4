"""Many kernels at once, and many websockets connecting at the same moment."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid

from .fanout import (
    RssSampler,
    _busy,
    connect_clients,
    execute_and_wait,
    kernel_cpu,
    start_kernel,
    stop_kernel,
)
from .wsclient import KernelClient

CODE = "for i in range({m}):\n    print(i, flush=True)"


async def _kernel_with_clients(server, w: int):
    kid = await start_kernel(server)
    clients = await connect_clients(server, kid, w)
    return kid, clients


async def _warm(server, clients) -> None:
    res = await execute_and_wait(server, clients, "pass", timeout=60, quiet=10)
    if not res["all_idle"]:
        raise RuntimeError(f"warm-up: {res['idle_clients']}/{len(clients)} saw idle")


async def many_kernels(server, k: int = 20, w: int = 5, m: int = 2000, timeout: float = 180.0) -> dict:
    """A lone kernel (w websockets) runs the cell; then k kernels (w websockets each) run it at once."""
    out: dict = {"K": k, "W": w, "lines": m, "cpus": os.cpu_count()}
    code = CODE.format(m=m)
    kid, clients = await _kernel_with_clients(server, w)
    try:
        await _warm(server, clients)
        await server.settle()
        lone = await execute_and_wait(server, clients, code, timeout=timeout)
        out["lone"] = {
            "time_to_last_idle": lone["time_to_last_idle"],
            "complete": lone["all_idle"] and lone["min_stream_lines"] >= m,
            "server_cpu": lone["server_cpu"],
        }
    finally:
        for c in clients:
            c.close()
        await stop_kernel(server, kid)
    await asyncio.sleep(1.0)
    await server.settle()
    rss0, fds0 = server.rss(), server.fds()
    kernels: list[tuple[str, list[KernelClient]]] = []
    try:
        t0 = time.perf_counter()
        kernels = list(await asyncio.gather(*(_kernel_with_clients(server, w) for _ in range(k))))
        out["start_all_s"] = time.perf_counter() - t0
        await asyncio.gather(*(_warm(server, cl) for _, cl in kernels))
        out["fds_with"] = server.fds()
        out["fds_before"] = fds0
        await server.settle()
        cpu0, kcpu0, busy0 = server.cpu_seconds(), kernel_cpu(server), _busy()
        with RssSampler(server) as rs:
            runs = await asyncio.gather(
                *(execute_and_wait(server, cl, code, timeout=timeout, quiet=10) for _, cl in kernels)
            )
        out["server_cpu"] = server.cpu_seconds() - cpu0
        out["kernel_cpu"] = kernel_cpu(server) - kcpu0
        out["machine_busy_cpu"] = _busy() - busy0
        out["rss_before"], out["rss_peak"] = rss0, rs.peak
        ttis = [r["time_to_last_idle"] for r in runs]
        out["per_kernel_time_to_last_idle"] = ttis
        out["complete_kernels"] = sum(1 for r in runs if r["all_idle"] and r["min_stream_lines"] >= m)
        out["min_lines"] = min(r["min_stream_lines"] for r in runs)
        out["incomplete"] = [
            {
                "outcome": r["outcome"],
                "idle_clients": r["idle_clients"],
                "lines": [p["stream_lines"] for p in r["per_client"]],
            }
            for r in runs
            if not (r["all_idle"] and r["min_stream_lines"] >= m)
        ]
        out["untracked_lines"] = [cl[0].untracked_parents for _, cl in kernels if cl[0].untracked_lines]
        out["frames"] = sum(r["total_msgs"] for r in runs)
        done = [x for x in ttis if x is not None]
        out["median_time_to_idle"] = statistics.median(done) if done else None
        out["max_time_to_idle"] = max(done) if len(done) == k else None
        base = out["lone"]["time_to_last_idle"]
        if base and done:
            # Each of k kernels gets cpus/k of the machine at best (server and harness need some too).
            fair = base * k / max(1, out["cpus"])
            out["fair_share_time"] = fair
            out["ratio_median_to_fair"] = out["median_time_to_idle"] / fair
            out["ratio_max_to_fair"] = (out["max_time_to_idle"] or float("inf")) / fair
    finally:
        for _, cl in kernels:
            for c in cl:
                c.close()
        await asyncio.sleep(1.0)
        await asyncio.gather(*(stop_kernel(server, kid) for kid, _ in kernels))
    await asyncio.sleep(1.0)
    out["rss_after"], out["fds_after"] = server.rss(), server.fds()
    return out


class _StormClient(KernelClient):
    """Records when its websocket opened and when the kernel_info_reply and a status arrived."""

    def __init__(self, server, kernel_id: str, name: str = ""):
        super().__init__(server, kernel_id, name)
        self.t_open: float | None = None
        self.t_status: float | None = None
        self.t_info: float | None = None
        self.info_id = uuid.uuid4().hex

    def _on_message(self, frame) -> None:
        now = time.perf_counter()
        if isinstance(frame, bytes | bytearray):
            try:
                n = int.from_bytes(frame[:8], "little")
                offs = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(n)]
                header = json.loads(frame[offs[1] : offs[2]])
                mt = header.get("msg_type")
                if mt == "status" and self.t_status is None:
                    self.t_status = now
                elif mt == "kernel_info_reply":
                    parent = json.loads(frame[offs[2] : offs[3]])
                    if parent.get("msg_id") == self.info_id and self.t_info is None:
                        self.t_info = now
            except Exception:
                pass
        super()._on_message(frame)


def _kernel_info_frame(session: str, msg_id: str) -> bytes:
    from datetime import datetime, timezone

    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    header = {
        "msg_id": msg_id,
        "msg_type": "kernel_info_request",
        "username": "bench",
        "session": session,
        "date": datetime.now(timezone.utc).isoformat(),
        "version": "5.3",
    }
    parts = [json.dumps(x).encode() for x in (header, {}, {}, {})]
    return serialize_msg_to_ws_v1(parts, "shell")


async def connect_storm(server, n: int = 200, timeout: float = 60.0) -> dict:
    """Start a kernel; at once, n websockets connect and each asks kernel_info (as JupyterLab does)."""
    t_start = time.perf_counter()
    kid = await start_kernel(server)
    t_kernel = time.perf_counter()
    clients = [_StormClient(server, kid, name=f"s{i}") for i in range(n)]

    async def one(c: _StormClient) -> None:
        t0 = time.perf_counter()
        await c.connect(timeout=timeout)
        c.t_open = time.perf_counter()
        c.t0 = t0  # type: ignore[attr-defined]
        c._write(_kernel_info_frame(c.session, c.info_id))

    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if all(c.t_info is not None and c.t_status is not None for c in clients if c.t_open is not None):
            break
        await asyncio.sleep(0.05)
    out: dict = {
        "N": n,
        "kernel_start_s": t_kernel - t_start,
        "connect_errors": [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)][:5],
        "opened": sum(1 for c in clients if c.t_open is not None),
        "server_cpu": server.cpu_seconds() - cpu0,
        "fds_with": server.fds(),
    }
    info = [c.t_info - t0 for c in clients if c.t_info is not None]
    status = [c.t_status - t0 for c in clients if c.t_status is not None]
    opened = [c.t_open - t0 for c in clients if c.t_open is not None]
    out["got_info"], out["got_status"] = len(info), len(status)
    out["failures"] = n - min(len(info), len(status))
    for name, vals in (("open", opened), ("kernel_info_reply", info), ("status", status)):
        out[name] = {
            "median": statistics.median(vals) if vals else None,
            "max": max(vals) if vals else None,
        }
    for c in clients:
        c.close()
    await asyncio.sleep(1.5)
    await stop_kernel(server, kid)
    return out
