"""Reference floor: the same measurements straight over ZMQ (jupyter_client), no server at all.

It tells how much of a time is the kernel's own and how much the server adds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

from .fanout import CODE


async def _run(kc, code: str, timeout: float) -> dict:
    msg_id = kc.execute(code)
    t0 = time.perf_counter()
    msgs = displays = lines = 0
    while True:
        rem = t0 + timeout - time.perf_counter()
        if rem <= 0:
            return {
                "time_to_idle": None,
                "msgs": msgs,
                "displays": displays,
                "lines": lines,
                "outcome": "timeout",
            }
        try:
            msg = await kc.get_iopub_msg(timeout=min(rem, 5.0))
        except Exception:  # queue.Empty: nothing for 5 s, the idle status was lost
            return {
                "time_to_idle": None,
                "msgs": msgs,
                "displays": displays,
                "lines": lines,
                "outcome": "no idle",
            }
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        msgs += 1
        mt = msg["msg_type"]
        if mt == "display_data":
            displays += 1
        elif mt == "stream":
            lines += msg["content"]["text"].count("\n")
        elif mt == "status" and msg["content"]["execution_state"] == "idle":
            return {
                "time_to_idle": time.perf_counter() - t0,
                "msgs": msgs,
                "displays": displays,
                "lines": lines,
            }


async def direct_floor(
    m: dict,
    modes: list[str],
    rtt_n: int = 20,
    repeat: int = 3,
    timeouts: dict | None = None,
    repeat_budget: float = 20.0,
) -> dict:
    from jupyter_client.manager import AsyncKernelManager

    timeouts = timeouts or {"display": 60.0, "stream": 45.0}
    runtime = tempfile.mkdtemp(prefix="ltt-bench-direct-")
    km = AsyncKernelManager(
        kernel_name="python3", connection_file=os.path.join(runtime, "kernel-direct.json")
    )
    out: dict = {}
    await km.start_kernel(cwd=runtime, env={**os.environ, "IPYTHONDIR": runtime})
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        await _run(kc, "pass", 30)
        rtts = []
        for _ in range(rtt_n):
            r = await _run(kc, "1+1", 10)
            if r["time_to_idle"] is not None:
                rtts.append(r["time_to_idle"])
        out["rtt"] = {"median": statistics.median(rtts) if rtts else None, "n": len(rtts)}
        for mode in modes:
            runs = []
            for _ in range(repeat):
                r = await _run(kc, CODE[mode].format(m=m[mode]), timeouts[mode])
                runs.append(r)
                if r["time_to_idle"] is not None and r["time_to_idle"] > repeat_budget / 2:
                    break  # slow enough to be stable: do not spend the run's budget here
                if r["time_to_idle"] is None:
                    # drain what is left so the next measurement starts clean
                    await asyncio.sleep(2)
                    while True:
                        try:
                            await kc.get_iopub_msg(timeout=0.5)
                        except Exception:
                            break
                    break
            ok = [r["time_to_idle"] for r in runs if r["time_to_idle"] is not None]
            out[mode] = {"runs": runs, "median_time_to_idle": statistics.median(ok) if ok else None}
    finally:
        kc.stop_channels()
        try:
            await asyncio.wait_for(km.shutdown_kernel(now=False), 15)
        except Exception:
            await km.shutdown_kernel(now=True)
    return out
