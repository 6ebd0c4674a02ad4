"""`python -m benchmarks.profile`: server CPU per delivered frame on one server, optionally under py-spy.

The quick loop behind issue 14's levers: one server, a kernel, W websockets, `display(i)` × M;
prints the server process's CPU time per frame delivered to all clients, and with `--spy` records
the last run with py-spy (`pip install py-spy`) and prints its top functions.

    python -m benchmarks.profile --kind ltt-notutor --W 100,200 --runs 2 --spy
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
from pathlib import Path

from . import fanout
from .servers import SERVER_KINDS, Server


def top_functions(raw: Path, n: int = 15) -> list[tuple[float, float, str]]:
    """(self %, inclusive %, function) from py-spy's raw (collapsed stacks) output."""
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        k = int(count)
        total += k
        frames = stack.split(";")
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    total = total or 1
    return [(100 * own[f] / total, 100 * incl[f] / total, f) for f, _ in own.most_common(n)]


async def main(args) -> None:
    extra = ["--Tutor.engine=builtin"] if args.kind.startswith("ltt") else []
    server = Server(args.kind, extra_args=extra)
    await server.start()
    print(f"{args.kind} server pid {server.proc.pid}")
    try:
        for w in args.W:
            kid = await fanout.start_kernel(server)
            clients = await fanout.connect_clients(server, kid, w)
            try:
                await fanout.warmup(server, clients)
                for run in range(args.runs):
                    await server.settle()
                    spy = None
                    out = Path(args.out) / f"pyspy-{args.kind}-W{w}.txt"
                    if args.spy and run == args.runs - 1:
                        cmd = ["py-spy", "record", "-f", "raw", "-r", "200", "-o", str(out)]
                        spy = subprocess.Popen(
                            [*cmd, "--pid", str(server.proc.pid)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        await asyncio.sleep(1.0)
                    code = fanout.CODE["display"].format(m=args.m)
                    res = await fanout.execute_and_wait(server, clients, code, timeout=180)
                    if spy is not None:
                        spy.send_signal(2)
                        spy.wait(30)
                    frames = max(1, res["total_msgs"])
                    print(
                        f"W={w} run {run + 1}: {res['server_cpu'] / frames * 1e6:.2f} µs/frame "
                        f"({res['server_cpu']:.2f} s CPU, {frames} frames), last idle "
                        f"{res['time_to_last_idle']} s, displays>={res['min_displays']}, "
                        f"other load {res['other_cpu']:.1f} s"
                    )
                    if spy is not None and out.exists():
                        for own, incl, f in top_functions(out):
                            print(f"  {own:5.1f}% self {incl:5.1f}% incl  {f}")
            finally:
                for c in clients:
                    c.close()
                await asyncio.sleep(1.0)
                await fanout.stop_kernel(server, kid)
    finally:
        server.stop()
        server.cleanup()


def cli(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    p.add_argument("--kind", default="ltt-notutor", choices=sorted(SERVER_KINDS))
    p.add_argument("--W", default="100,200")
    p.add_argument("--m", type=int, default=2000)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--spy", action="store_true")
    p.add_argument("--out", default="/tmp")
    a = p.parse_args(argv)
    a.W = [int(x) for x in a.W.split(",")]
    asyncio.run(main(a))


if __name__ == "__main__":
    cli()
