"""Fan-out, round trip and isolation measurements over the kernel websocket."""

from __future__ import annotations

import asyncio
import statistics
import time

import psutil

from .wsclient import KernelClient, StalledSocket

CODE = {
    "display": "for i in range({m}):\n    display(i)",
    "stream": "for i in range({m}):\n    print(i, flush=True)",
}


class RssSampler:
    """Samples the server's RSS every `interval` seconds while active."""

    def __init__(self, server, interval: float = 0.1):
        self.server, self.interval = server, interval
        self.peak = 0
        self.start_rss = 0
        self._task = None

    async def _loop(self):
        while True:
            try:
                self.peak = max(self.peak, self.server.rss())
            except Exception:
                pass
            await asyncio.sleep(self.interval)

    def __enter__(self):
        self.start_rss = self.peak = self.server.rss()
        self._task = asyncio.ensure_future(self._loop())
        return self

    def __exit__(self, *exc):
        self._task.cancel()
        try:
            self.peak = max(self.peak, self.server.rss())
        except Exception:
            pass


def _busy() -> float:
    """Machine-wide busy CPU seconds (all cores): to show how much other load was running."""
    t = psutil.cpu_times()
    return (
        t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    )


def kernel_cpu(server) -> float:
    total = 0.0
    try:
        for child in server.ps.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except Exception:
                pass
    except Exception:
        pass
    return total


async def start_kernel(server) -> str:
    k = await server.request("POST", "/api/kernels", {"name": "python3"}, timeout=60)
    return k["id"]


async def stop_kernel(server, kernel_id: str) -> None:
    try:
        await server.request("DELETE", f"/api/kernels/{kernel_id}", timeout=30)
    except Exception:
        pass


async def connect_clients(server, kernel_id: str, n: int) -> list[KernelClient]:
    clients = [KernelClient(server, kernel_id, name=f"c{i}") for i in range(n)]
    # connect in small batches: 50 simultaneous handshakes would measure the accept queue instead
    for i in range(0, n, 10):
        await asyncio.gather(*(c.connect() for c in clients[i : i + 10]))
    return clients


async def execute_and_wait(
    server,
    clients: list[KernelClient],
    code: str,
    timeout: float,
    quiet: float = 3.0,
    sender: KernelClient | None = None,
) -> dict:
    """Client 0 (or `sender`) sends `code`; wait until every client saw idle for it.

    Bounded: gives up at `timeout`, or `quiet` seconds after the sender's execute_reply when no
    client has received anything since (the kernel is done but the idle status got lost).
    """
    sender = sender or clients[0]
    cpu0, kcpu0, hcpu0 = server.cpu_seconds(), kernel_cpu(server), time.process_time()
    sys0 = _busy()
    msg_id = sender.send_execute_tracked(code, clients)
    runs = [c.runs[msg_id] for c in clients]
    sent = runs[0].t_sent
    deadline = sent + timeout
    outcome = "ok"
    srun = sender.runs[msg_id]
    while not all(r.t_idle is not None for r in runs):
        now = time.perf_counter()
        if now > deadline:
            outcome = "timeout"
            break
        done_mark = srun.t_reply or srun.t_idle
        if done_mark is not None:
            last = max([c.t_last_msg for c in clients] + [done_mark])
            if now - last > quiet:
                outcome = "no idle"
                break
        await asyncio.sleep(0.02)
    t_end = time.perf_counter()
    cpu = server.cpu_seconds() - cpu0
    kcpu = kernel_cpu(server) - kcpu0
    hcpu = time.process_time() - hcpu0
    other = max(0.0, _busy() - sys0 - cpu - kcpu - hcpu)
    per_client = []
    for r in runs:
        tti = (r.t_idle - r.t_sent) if r.t_idle is not None else None
        span = tti if tti is not None else ((r.t_last - r.t_sent) if r.t_last else None)
        per_client.append(
            {
                "time_to_idle": tti,
                "msgs": r.msgs,
                "msgs_per_s": (r.msgs / span) if span else None,
                "displays": r.displays,
                "stream_lines": r.stream_lines,
                "stream_msgs": r.stream_msgs,
            }
        )
    for c in clients:
        c.runs.pop(msg_id, None)
    ttis = [p["time_to_idle"] for p in per_client]
    all_idle = all(t is not None for t in ttis)
    total_msgs = sum(p["msgs"] for p in per_client)
    wall = max(ttis) if all_idle else t_end - sent
    return {
        "outcome": outcome,
        "all_idle": all_idle,
        "idle_clients": sum(t is not None for t in ttis),
        "time_to_last_idle": max(ttis) if all_idle else None,
        "median_time_to_idle": statistics.median([t for t in ttis if t is not None])
        if any(t is not None for t in ttis)
        else None,
        "wall": wall,
        "server_cpu": cpu,
        "kernel_cpu": kcpu,
        "harness_cpu": hcpu,
        "other_cpu": other,
        "total_msgs": total_msgs,
        "agg_msgs_per_s": total_msgs / wall if wall else None,
        "min_displays": min(p["displays"] for p in per_client),
        "min_stream_lines": min(p["stream_lines"] for p in per_client),
        "per_client": per_client,
    }


async def warmup(server, clients, timeout: float = 60.0) -> None:
    """Make sure the kernel answers and every websocket receives iopub before measuring."""
    deadline = time.perf_counter() + timeout
    while True:
        res = await execute_and_wait(server, clients, "pass", timeout=min(15.0, timeout), quiet=5.0)
        if res["all_idle"]:
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"warm-up failed: {res['idle_clients']}/{len(clients)} clients saw idle")


async def round_trips(server, clients, n: int = 20, timeout: float = 10.0) -> dict:
    """`1+1` from client 0: request sent -> idle status received (client 0), n times."""
    times = []
    for _ in range(n):
        res = await execute_and_wait(server, clients, "1+1", timeout=timeout, quiet=3.0)
        t = res["per_client"][0]["time_to_idle"]
        if t is not None:
            times.append(t)
    return {
        "median": statistics.median(times) if times else None,
        "min": min(times) if times else None,
        "max": max(times) if times else None,
        "n": len(times),
    }


def complete(mode: str, res: dict, m: int) -> bool:
    if not res["all_idle"]:
        return False
    if mode == "display":
        return res["min_displays"] >= m
    return res["min_stream_lines"] >= m


async def fanout_config(
    server, w: int, modes: list[str], m: dict, timeouts: dict, skip: set, rtt_n: int
) -> dict:
    """One fresh kernel, W websockets: fds, each mode once, the 1+1 round trips."""
    out: dict = {"W": w}
    kid = await start_kernel(server)
    clients: list[KernelClient] = []
    try:
        await asyncio.sleep(0.5)
        out["fds_before"] = server.fds()
        clients = await connect_clients(server, kid, w)
        await warmup(server, clients)
        await asyncio.sleep(0.3)
        out["fds_with"] = server.fds()
        for mode in modes:
            if (mode, w) in skip:
                continue
            await server.settle()
            code = CODE[mode].format(m=m[mode])
            with RssSampler(server) as rs:
                res = await execute_and_wait(server, clients, code, timeout=timeouts[mode])
            res["rss_peak"] = rs.peak
            res["complete"] = complete(mode, res, m[mode])
            out[mode] = res
            if mode == "display" and rtt_n:
                if res["all_idle"]:
                    await server.settle(5)
                    out["rtt"] = await round_trips(server, clients, rtt_n)
            if not res["all_idle"] and res["outcome"] == "timeout":
                break  # the kernel/server still has a backlog: no further modes on this kernel
    finally:
        for c in clients:
            c.close()
        await asyncio.sleep(1.5)
        out["fds_after"] = server.fds()
        await stop_kernel(server, kid)
    return out


async def isolation_config(
    server, w: int, m: int, timeout: float, kind: str, slow_sleep: float = 1.0
) -> dict:
    """W normal websockets plus one stalled consumer (`kind`: 'stalled-ws' or 'slow-listener')."""
    kid = await start_kernel(server)
    clients: list[KernelClient] = []
    stalled = None
    out: dict = {"W": w, "kind": kind}
    try:
        await asyncio.sleep(0.5)
        clients = await connect_clients(server, kid, w)
        await warmup(server, clients)
        # the paired baseline: same kernel, same clients, just before, no stalled consumer
        await server.settle()
        base = await execute_and_wait(server, clients, CODE["display"].format(m=m), timeout=timeout)
        base["complete"] = complete("display", base, m)
        out["baseline"] = base
        if kind == "stalled-ws":
            stalled = StalledSocket(server, kid)
            await stalled.connect()
        elif kind == "control":
            pass  # nothing attached: shows the order effect of running the same cell twice
        else:
            try:
                await server.request("POST", f"/bench/probe/kernels/{kid}", {"sleep": slow_sleep})
            except Exception as e:
                out["skipped"] = f"no shared client to attach a listener to ({e.__class__.__name__})"
                return out
        await server.settle()
        rss_before = server.rss()
        code = CODE["display"].format(m=m)
        with RssSampler(server) as rs:
            res = await execute_and_wait(server, clients, code, timeout=timeout)
            # keep the stalled consumer attached a bit longer: memory must stay bounded
            await asyncio.sleep(1.0)
        res["complete"] = complete("display", res, m)
        res["rss_before"] = rss_before
        res["rss_peak"] = rs.peak
        out["run"] = res
        if stalled is not None:
            out["stalled_state"] = stalled.drain_state()
        elif kind == "slow-listener":
            try:
                r = await server.request("DELETE", f"/bench/probe/kernels/{kid}")
                out["slow_listener_calls"] = r.get("calls")
            except Exception:
                pass
    finally:
        for c in clients:
            c.close()
        if stalled is not None:
            stalled.close()
        await asyncio.sleep(1.0)
        try:
            out["rss_after"] = server.rss()
        except Exception:
            pass
        await stop_kernel(server, kid)
    return out
