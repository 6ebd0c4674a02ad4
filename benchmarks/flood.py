"""A learner's print flood in a notebook that is open server-side (its YDoc kept by the server).

    python -m benchmarks.flood [--lines N]

``for i in range(N): print(i)`` (10,000,000 lines, ~79 MB by default) runs over a kernel websocket
with its cell id, as JupyterLab sends it, while ``GET /api/status`` is polled every 100 ms. Printed
per case, each on a fresh server: the run's wall time, the server's CPU, the status request's
median and worst latency (the server stays responsive), and RSS at the end. Cases: ltt-ext as
shipped (the large stream outside the YDoc), and ``--LargeOutputsManager.inline_limit=0`` (every
output in the YDoc).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from .large_outputs import _notebook, create_notebook_session_for
from .servers import Server
from .wsclient import KernelClient

CASES = {
    "ltt-ext (large stream out of the YDoc)": [],
    "inline_limit=0 (all in the YDoc)": ["--LargeOutputsManager.inline_limit=0"],
}


async def flood(extra_args: list[str], lines: int) -> dict:
    server = Server("ltt", extra_args=extra_args)
    await server.start()
    try:
        path = "flood.ipynb"
        await server.request(
            "PUT",
            f"/api/contents/{path}",
            {"type": "notebook", "format": "json", "content": _notebook({"c": ""})},
        )
        session = await create_notebook_session_for(server, path)
        client = KernelClient(server, session["kernel"]["id"])
        await client.connect()
        try:
            await server.settle()
            cpu0 = server.cpu_seconds()
            latencies: list[float] = []
            running = True

            async def poll() -> None:
                while running:
                    t = time.perf_counter()
                    await server.request("GET", "/api/status", timeout=120)
                    latencies.append(time.perf_counter() - t)
                    await asyncio.sleep(0.1)

            poller = asyncio.create_task(poll())
            t0 = time.perf_counter()
            run = client.execute(f"for i in range({lines}):\n    print(i)", cell_id="c")
            await asyncio.wait_for(run.done.wait(), 1800)
            wall = time.perf_counter() - t0
            running = False
            await poller
            return {
                "run_s": wall,
                "server_cpu_s": server.cpu_seconds() - cpu0,
                "status_p50_ms": statistics.median(latencies) * 1000,
                "status_max_ms": max(latencies) * 1000,
                "rss_mb": server.rss() / 2**20,
            }
        finally:
            client.close()
    finally:
        server.stop()
        server.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000)
    args = ap.parse_args(argv)
    print(
        f"| case ({args.lines:,} printed lines) | run | server CPU | /api/status p50 | worst | RSS at end |"
    )
    print("|---|---|---|---|---|---|")
    for label, extra in CASES.items():
        r = asyncio.run(flood(extra, args.lines))
        print(
            f"| {label} | {r['run_s']:.1f} s | {r['server_cpu_s']:.1f} s | {r['status_p50_ms']:.1f} ms "
            f"| {r['status_max_ms']:.0f} ms | {r['rss_mb']:.0f} MB |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
