"""`python -m benchmarks`: start real servers, measure, print a markdown table, write JSON + PNG."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import time
import traceback
from pathlib import Path

from ltt_ext.fake_llm import FakeLLM, serve_fake_llm, stop_fake_llm

from . import direct, fanout, headless, large_outputs, report, scale, tutor
from .servers import REPO_ROOT, SERVER_KINDS, Server, stop_all

DEFAULT_SERVERS = "upstream,nextgen,ltt"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Fan-out / tutor / isolation / headless benchmarks: upstream jupyter-server vs "
        "stock nextgen-kernels-api vs ltt-ext, on real servers on 127.0.0.1.",
    )
    p.add_argument(
        "--servers",
        default=DEFAULT_SERVERS,
        help=f"comma list of {', '.join(['upstream', 'nextgen', 'ltt'])} (default: %(default)s). "
        "'ltt' also runs ltt-ext with the tutor off (overhead) and with a local LLM (hint latency).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="1 run, W=1,10, shorter timeouts, fewer samples (a smoke run: ~3-4 minutes)",
    )
    p.add_argument(
        "--repeat", type=int, default=None, help="runs per measurement, median reported (default 3)"
    )
    p.add_argument("--W", default=None, help="websocket counts (default 1,10,50,100,200; quick: 1,10)")
    p.add_argument(
        "--stream-max-w",
        type=int,
        default=50,
        help="stream mode only up to this W (default %(default)s: 20,000 lines to 200 clients is "
        "4 million frames for one harness process to parse)",
    )
    p.add_argument("--modes", default="display,stream")
    p.add_argument(
        "--sections",
        default="floor,fanout,isolation,headless,tutor,scale,large",
        help="which parts to run (default: all)",
    )
    p.add_argument("--display-m", type=int, default=2000)
    p.add_argument("--stream-m", type=int, default=20000)
    p.add_argument("--display-timeout", type=float, default=None, help="seconds (default 150; quick 60)")
    p.add_argument("--stream-timeout", type=float, default=None, help="seconds (default 30; quick 20)")
    p.add_argument(
        "--repeat-budget",
        type=float,
        default=30.0,
        help="a measurement whose first run took longer than this many seconds (or timed out) "
        "is not repeated (default %(default)s): keeps the slow stock-nextgen runs bounded",
    )
    p.add_argument("--rtt-n", type=int, default=20)
    p.add_argument("--scale-kernels", type=int, default=None, help="kernels at once (default 20; quick 5)")
    p.add_argument("--scale-ws", type=int, default=5, help="websockets per kernel in the many-kernels case")
    p.add_argument("--scale-lines", type=int, default=2000, help="lines each kernel prints at full speed")
    p.add_argument(
        "--storm-n", type=int, default=None, help="websockets connecting at once (default 200; quick 50)"
    )
    p.add_argument(
        "--scale-servers",
        default="upstream,ltt",
        help="servers for the many-kernels and connection-storm cases (default %(default)s: stock "
        "nextgen routes ~87 messages/s per kernel, so its 20-kernel run only measures the timeout)",
    )
    p.add_argument("--isolation-w", type=int, default=10)
    p.add_argument("--slow-listener-sleep", type=float, default=1.0)
    p.add_argument("--headless-lines", type=int, default=None, help="default 100000 (quick 20000)")
    p.add_argument("--hint-samples", type=int, default=None, help="default 5 (quick 2)")
    p.add_argument("--llm-delay", type=float, default=0.2, help="the fake LLM's delay before its first token")
    p.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"))
    p.add_argument("--plot", default=str(REPO_ROOT / "docs" / "benchmark_fanout.png"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument(
        "--total-timeout",
        type=float,
        default=3600.0,
        help="hard limit for the whole run (s); partial results are still written",
    )
    p.add_argument(
        "--server-arg", action="append", default=[], help="extra argument for every server (repeatable)"
    )
    a = p.parse_args(argv)
    a.repeat = a.repeat if a.repeat is not None else (1 if a.quick else 3)
    a.W = [int(x) for x in (a.W or ("1,10" if a.quick else "1,10,50,100,200")).split(",")]
    a.scale_kernels = a.scale_kernels or (5 if a.quick else 20)
    a.storm_n = a.storm_n or (50 if a.quick else 200)
    a.scale_servers = [x for x in a.scale_servers.split(",") if x]
    a.modes = [m for m in a.modes.split(",") if m]
    a.sections = set(a.sections.split(","))
    a.display_timeout = a.display_timeout or (60.0 if a.quick else 150.0)
    a.stream_timeout = a.stream_timeout or (20.0 if a.quick else 30.0)
    a.headless_lines = a.headless_lines or (20000 if a.quick else 100000)
    a.hint_samples = a.hint_samples or (2 if a.quick else 5)
    if a.quick:
        a.rtt_n = min(a.rtt_n, 10)
    a.servers = [s for s in a.servers.split(",") if s]
    for s in a.servers:
        if s not in ("upstream", "nextgen", "ltt"):
            p.error(f"unknown server {s!r}")
    return a


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


async def with_server(kind: str, args, extra=(), fn=None):
    server = Server(kind, extra_args=[*args.server_arg, *extra])
    try:
        log(f"[{kind}] starting server")
        await server.start()
        log(
            f"[{kind}] up on port {server.port}: {server.probe['multi_kernel_manager']} / "
            f"{server.probe['kernel_websocket_connection_class']}"
        )
        return await fn(server)
    finally:
        server.stop()
        server.cleanup(keep_logs_in=Path(args.out) / "logs")


async def fanout_interleaved(servers: dict, args, modes_of: dict, results: dict) -> dict:
    """Fan-out on every server, interleaved: for each run and each W, the servers take turns.

    The machine may carry other load that drifts over minutes; interleaving spreads it evenly
    over the servers instead of penalising whichever ran during the busy minute.
    """
    timeouts = {"display": args.display_timeout, "stream": args.stream_timeout}
    m = {"display": args.display_m, "stream": args.stream_m}
    skip = {kind: set() for kind in servers}
    out = {kind: {str(w): [] for w in args.W} for kind in servers}
    for kind in servers:  # filled in place: an interrupted run still reports what it measured
        results["servers"][kind]["fanout"] = out[kind]
    for rep in range(args.repeat):
        for w in args.W:
            for kind, server in servers.items():
                modes = [m for m in modes_of[kind] if m != "stream" or w <= args.stream_max_w]
                if rep > 0 and all((mode, w) in skip[kind] for mode in modes):
                    continue
                log(f"[{kind}] fan-out W={w} run {rep + 1}/{args.repeat}")
                try:
                    res = await fanout.fanout_config(server, w, modes, m, timeouts, skip[kind], args.rtt_n)
                except Exception as e:
                    log(f"[{kind}]   FAILED: {e.__class__.__name__}: {e}")
                    out[kind][str(w)].append({"W": w, "error": f"{e.__class__.__name__}: {e}"})
                    for mode in modes:
                        skip[kind].add((mode, w))
                    continue
                out[kind][str(w)].append(res)
                for mode in modes:
                    r = res.get(mode)
                    if r is None:
                        continue
                    log(
                        f"[{kind}]   {mode}: {r['outcome']}, last idle "
                        f"{_fmt(r['time_to_last_idle'])} s, {r['idle_clients']}/{w} idle, "
                        f"displays>={r['min_displays']} lines>={r['min_stream_lines']}, "
                        f"server CPU {r['server_cpu']:.1f} s, other load {r['other_cpu']:.1f} s"
                    )
                    if r["outcome"] == "timeout" or (r["wall"] or 0) > args.repeat_budget:
                        skip[kind].add((mode, w))
                if "rtt" in res:
                    log(f"[{kind}]   1+1 round trip median {_fmt(res['rtt']['median'], 1000)} ms")
    return out


def _fmt(x, scale=1.0):
    return "-" if x is None else f"{x * scale:.3g}"


async def isolation_section(server, args, baseline_runs: list | None) -> dict:
    out = {}
    kinds = (
        (["control"] if server.kind != "nextgen" else [])
        + ["stalled-ws"]
        + (["slow-listener"] if server.kind != "upstream" else [])
    )
    base = None
    if baseline_runs:
        vals = [
            r["display"]["time_to_last_idle"]
            for r in baseline_runs
            if r.get("display") and r["display"]["time_to_last_idle"] is not None
        ]
        base = statistics.median(vals) if vals else None
    timeout = min(60.0, max(20.0, 1.5 * base + 10)) if base else args.display_timeout
    for kind in kinds:
        runs = []
        for rep in range(args.repeat):
            log(f"[{server.kind}] isolation {kind} W={args.isolation_w} run {rep + 1}")
            res = await fanout.isolation_config(
                server, args.isolation_w, args.display_m, timeout, kind, args.slow_listener_sleep
            )
            runs.append(res)
            run = res.get("run")
            if res.get("skipped") or run is None:
                break
            log(
                f"[{server.kind}]   {run['outcome']}, others' last idle {_fmt(run['time_to_last_idle'])} s "
                f"(paired baseline {_fmt(res['baseline']['time_to_last_idle'])} s), RSS {run['rss_before'] / 2**20:.0f} -> peak "
                f"{run['rss_peak'] / 2**20:.0f} MiB, stalled: {res.get('stalled_state', '-')}"
            )
            if run["outcome"] == "timeout" or (run["wall"] or 0) > args.repeat_budget:
                break
        out[kind] = {"baseline_time_to_last_idle": base, "runs": runs}
    return out


async def headless_section(server, args) -> dict:
    runs = []
    for rep in range(args.repeat):
        log(f"[{server.kind}] headless {args.headless_lines} lines run {rep + 1}")
        try:
            r = await headless.headless_run(server, args.headless_lines, timeout=120.0)
        except Exception as e:
            r = {"error": f"{e.__class__.__name__}: {e}"}
            runs.append(r)
            log(f"[{server.kind}]   failed: {r['error']}")
            break
        runs.append(r)
        log(
            f"[{server.kind}]   on disk after {_fmt(r.get('time_to_disk'))} s "
            f"({r['disk'].get('lines')} lines), peak RSS {r['rss_peak'] / 2**20:.0f} MiB"
        )
        if not r.get("complete"):
            break
    return {"runs": runs}


async def start_server(kind: str, args, results: dict) -> Server | None:
    entry = results["servers"].setdefault(kind, {"label": SERVER_KINDS[kind][0]})
    server = Server(kind, extra_args=[*args.server_arg, *_kind_extra(kind)])
    try:
        log(f"[{kind}] starting server")
        await server.start()
    except Exception as e:
        entry["error"] = f"{e.__class__.__name__}: {e}"
        log(f"[{kind}] FAILED to start: {entry['error']}")
        server.stop()
        server.cleanup(keep_logs_in=Path(args.out) / "logs")
        return None
    entry["probe"] = p = server.probe
    log(
        f"[{kind}] up on port {server.port}: {p['multi_kernel_manager']} / "
        f"{p['kernel_websocket_connection_class']}"
    )
    if kind.startswith("ltt"):
        if not p.get("extensions", {}).get("ltt_ext", {}).get("enabled"):
            entry["error"] = "ltt_ext did not load (see the server log)"
        elif p["multi_kernel_manager"].split(".")[0] != "ltt_ext":
            entry["warning"] = f"kernel manager is {p['multi_kernel_manager']}"
    if kind == "ltt-notutor":
        entry["tutor_enabled"] = p.get("ltt_tutor_enabled")
        if not p.get("ltt_tutor_has_enabled_trait"):
            entry["skipped"] = (
                "Tutor.enabled is not a trait of ltt-ext's Tutor yet: cannot switch the tutor off"
            )
        elif p.get("ltt_tutor_enabled"):
            entry["skipped"] = "--Tutor.enabled=False did not switch the tutor off"
    if entry.get("error") or entry.get("skipped"):
        log(f"[{kind}] {entry.get('error') or entry.get('skipped')}")
        server.stop()
        server.cleanup(keep_logs_in=Path(args.out) / "logs")
        return None
    return server


async def per_server_sections(kind: str, server: Server, args, results: dict) -> None:
    entry = results["servers"][kind]
    try:
        if "isolation" in args.sections:
            base = (entry.get("fanout") or {}).get(str(args.isolation_w))
            entry["isolation"] = await isolation_section(server, args, base)
        if "headless" in args.sections and kind != "upstream":
            entry["headless"] = await headless_section(server, args)
        if "scale" in args.sections and kind in args.scale_servers:
            entry["scale"] = await scale_section(server, args)
        if "tutor" in args.sections and kind == "ltt":
            log(f"[{kind}] hint latency, built-in engine")
            entry["hint_builtin"] = await tutor.hint_latency(
                server, args.hint_samples, debounce=server_debounce(server)
            )
            log(f"[{kind}]   median {_fmt(entry['hint_builtin']['median_hint_after_error'], 1000)} ms")
    except Exception as e:
        entry["error"] = f"{e.__class__.__name__}: {e}"
        entry["traceback"] = traceback.format_exc()
        log(f"[{kind}] FAILED: {entry['error']}")


async def scale_section(server, args) -> dict:
    out: dict = {}
    log(
        f"[{server.kind}] {args.scale_kernels} kernels x {args.scale_ws} websockets, {args.scale_lines} lines each"
    )
    try:
        r = out["many"] = await scale.many_kernels(
            server, args.scale_kernels, args.scale_ws, args.scale_lines
        )
        log(
            f"[{server.kind}]   {r['complete_kernels']}/{r['K']} complete, median idle "
            f"{_fmt(r.get('median_time_to_idle'))} s (lone {_fmt(r['lone']['time_to_last_idle'])} s), "
            f"RSS peak {r['rss_peak'] / 2**20:.0f} MiB, fds {r['fds_with'].get('fds')}"
        )
    except Exception as e:
        out["many"] = {"error": f"{e.__class__.__name__}: {e}"}
        log(f"[{server.kind}]   many kernels FAILED: {out['many']['error']}")
    log(f"[{server.kind}] {args.storm_n} websockets connecting at once to a new kernel")
    try:
        r = out["storm"] = await scale.connect_storm(server, args.storm_n)
        log(
            f"[{server.kind}]   {r['failures']} failures, kernel_info_reply median/max "
            f"{_fmt(r['kernel_info_reply']['median'])} / {_fmt(r['kernel_info_reply']['max'])} s"
        )
    except Exception as e:
        out["storm"] = {"error": f"{e.__class__.__name__}: {e}"}
        log(f"[{server.kind}]   storm FAILED: {out['storm']['error']}")
    return out


async def large_section(args, results: dict) -> None:
    """ltt-ext with every output in the YDoc (limit 0) vs the shipped limit, each on a fresh server."""
    entry = results["servers"].setdefault("ltt-large", {"label": "ltt-ext, large outputs"})
    for name, extra in (("in_ydoc", ["--LargeOutputsManager.inline_limit=0"]), ("out_of_ydoc", [])):

        async def body(server, name=name):
            log(f"[ltt] large outputs, {name.replace('_', ' ')}")
            r = entry[name] = await large_outputs.one_case(server)
            log(
                f"[ltt]   YDoc {r['ydoc_bytes'] / 1e6:.2f} MB, RSS +{(r['rss_after'] - r['rss_before']) / 2**20:.0f} MiB, "
                f"second tab sync {_fmt(r['second_tab']['sync_s'], 1000)} ms"
            )

        try:
            await with_server("ltt", args, extra=["--Tutor.engine=builtin", *extra], fn=body)
        except Exception as e:
            entry[name] = {"error": f"{e.__class__.__name__}: {e}"}
            log(f"[ltt] large outputs FAILED: {entry[name]['error']}")


def server_debounce(server) -> float:
    delay = (server.probe or {}).get("ltt_tutor_proactive_delay")
    if delay is not None:
        return float(delay)
    for a in server.command():
        if a.startswith("--Tutor.proactive_delay="):
            return float(a.split("=", 1)[1])
    try:
        from ltt_ext.tutor.service import Tutor

        return float(Tutor.class_traits()["proactive_delay"].default_value)
    except Exception:
        return 1.0


def _kind_extra(kind: str) -> list[str]:
    if kind in ("ltt", "ltt-notutor"):
        return ["--Tutor.engine=builtin"]
    return []


async def run_llm_hint(args, results: dict) -> None:
    entry = results["servers"].setdefault("ltt-llm", {"label": "ltt-ext (tutor on, local streaming LLM)"})
    llm = FakeLLM(
        delay=args.llm_delay,
        token_delay=0.01,
        default_reply="Look at the line the arrow points to: what is the value of the divisor there?",
    )
    llm_server = await serve_fake_llm(llm)
    extra = [
        "--Tutor.model=bench",
        f"--Tutor.base_url={llm.base_url}",
        "--Tutor.api_key=sk-bench",
        "--Tutor.max_retries=0",
        "--Tutor.requests_per_minute=0",
        "--Tutor.tokens_per_hour=0",
    ]

    async def body(server):
        entry["probe"] = server.probe
        log(f"[ltt-llm] hint latency, local OpenAI-compatible streaming server (delay {args.llm_delay} s)")
        entry["hint_llm"] = await tutor.hint_latency(
            server, args.hint_samples + 1, llm=llm, debounce=server_debounce(server)
        )
        h = entry["hint_llm"]
        log(
            f"[ltt-llm]   first token after error {_fmt(h.get('median_first_token_after_error'), 1000)} ms, "
            f"minus LLM delay {_fmt(h.get('median_first_token_minus_llm_delay'), 1000)} ms"
        )

    try:
        await with_server("ltt", args, extra=extra, fn=body)
    except Exception as e:
        entry["error"] = f"{e.__class__.__name__}: {e}"
        entry["traceback"] = traceback.format_exc()
        log(f"[ltt-llm] FAILED: {entry['error']}")
    finally:
        await stop_fake_llm(llm, llm_server)


def environment() -> dict:
    versions = {}
    for mod in (
        "jupyter_server",
        "nextgen_kernels_api",
        "jupyter_server_documents",
        "ipykernel",
        "tornado",
        "pyzmq",
        "ltt_ext",
    ):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod.replace("_", "-") if mod != "pyzmq" else "pyzmq")
        except Exception:
            versions[mod] = None
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_avg_start": os.getloadavg(),
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


async def main_async(args, results: dict) -> dict:
    t0 = time.monotonic()
    kinds = list(args.servers)
    if "ltt" in kinds and "fanout" in args.sections:
        kinds.insert(kinds.index("ltt") + 1, "ltt-notutor")
    servers: dict[str, Server] = {}
    if "floor" in args.sections:
        log("[direct] kernel floor: jupyter_client straight over ZMQ, no server")
        try:
            results["direct"] = await direct.direct_floor(
                {"display": args.display_m, "stream": args.stream_m},
                args.modes,
                args.rtt_n,
                args.repeat,
                {"display": args.display_timeout, "stream": args.stream_timeout},
                repeat_budget=args.repeat_budget,
            )
            d = results["direct"]
            log(
                f"[direct]   1+1 {_fmt(d['rtt']['median'], 1000)} ms, "
                + ", ".join(f"{mode} {_fmt(d[mode]['median_time_to_idle'])} s" for mode in args.modes)
            )
        except Exception as e:
            results["direct"] = {"error": f"{e.__class__.__name__}: {e}"}
            log(f"[direct] FAILED: {results['direct']['error']}")
    try:
        for kind in kinds:
            server = await start_server(kind, args, results)
            if server is not None:
                servers[kind] = server
        if "fanout" in args.sections and servers:
            modes_of = {k: (["display"] if k == "ltt-notutor" else args.modes) for k in servers}
            await fanout_interleaved(servers, args, modes_of, results)
        notutor = servers.pop("ltt-notutor", None)
        if notutor is not None:
            notutor.stop()
            notutor.cleanup(keep_logs_in=Path(args.out) / "logs")
        for kind, server in servers.items():
            await per_server_sections(kind, server, args, results)
    finally:
        for server in servers.values():
            server.stop()
            server.cleanup(keep_logs_in=Path(args.out) / "logs")
    if "ltt" in args.servers and "tutor" in args.sections:
        await run_llm_hint(args, results)
    if "ltt" in args.servers and "large" in args.sections:
        await large_section(args, results)
    results["env"]["load_avg_end"] = os.getloadavg()
    results["env"]["duration_s"] = time.monotonic() - t0
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results = {
        "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
        "env": environment(),
        "servers": {},
    }
    t0 = time.monotonic()
    code = 0
    try:
        asyncio.run(asyncio.wait_for(main_async(args, results), args.total_timeout))
    except (KeyboardInterrupt, asyncio.TimeoutError) as e:
        log(f"interrupted ({e.__class__.__name__}): servers stopped; writing the partial results")
        results["partial"] = f"interrupted: {e.__class__.__name__} after {time.monotonic() - t0:.0f} s"
        results["env"].setdefault("duration_s", time.monotonic() - t0)
        results["env"].setdefault("load_avg_end", os.getloadavg())
        code = 130
    finally:
        stop_all()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    md = report.markdown(results)
    (out / f"bench-{stamp}.md").write_text(md)
    print(md)
    if not args.no_plot:
        try:
            report.plot(results, Path(args.plot))
            log(f"plot: {args.plot}")
        except Exception as e:
            log(f"no plot: {e}")
    log(f"results: {path}")
    return code
