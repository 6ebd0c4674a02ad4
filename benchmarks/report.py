"""Turn a results dict into a markdown report (with ratios against upstream) and a PNG plot."""

from __future__ import annotations

import statistics
from pathlib import Path

ORDER = ["upstream", "nextgen", "ltt", "ltt-notutor"]
SHORT = {
    "upstream": "upstream",
    "nextgen": "stock nextgen",
    "ltt": "ltt-ext",
    "ltt-notutor": "ltt-ext, tutor off",
    "ltt-llm": "ltt-ext + LLM",
}


def _med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def _f(x, digits=3, scale=1.0, suffix=""):
    if x is None:
        return "–"
    v = x * scale
    if abs(v) >= 100:
        return f"{v:.0f}{suffix}"
    return f"{v:.{digits}g}{suffix}"


def _ratio(x, base):
    if x is None or base is None or base == 0:
        return "–"
    return f"{x / base:.2f}×"


def mode_summary(entry: dict, mode: str, w: str) -> dict | None:
    runs = [c[mode] for c in (entry.get("fanout") or {}).get(w, []) if c.get(mode)]
    if not runs:
        return None
    all_idle = all(r["all_idle"] for r in runs)
    per_client_rates = [_med([p["msgs_per_s"] for p in r["per_client"]]) for r in runs]
    return {
        "n": len(runs),
        "time_to_last_idle": _med([r["time_to_last_idle"] for r in runs]) if all_idle else None,
        "median_tti": _med([r["median_time_to_idle"] for r in runs]),
        "wall": _med([r["wall"] for r in runs]),
        "agg_rate": _med([r["agg_msgs_per_s"] for r in runs]),
        "client_rate": _med(per_client_rates),
        "complete_runs": sum(1 for r in runs if r["complete"]),
        "idle": f"{min(r['idle_clients'] for r in runs)}/{int(w)}",
        "outcomes": sorted({r["outcome"] for r in runs}),
        "min_displays": min(r["min_displays"] for r in runs),
        "min_lines": min(r["min_stream_lines"] for r in runs),
        "server_cpu": _med([r["server_cpu"] for r in runs]),
        "kernel_cpu": _med([r["kernel_cpu"] for r in runs]),
        "other_cpu": _med([r.get("other_cpu") for r in runs]),
        "rss_peak": _med([r.get("rss_peak") for r in runs]),
    }


def fds_summary(entry: dict, w: str) -> dict | None:
    cfgs = (entry.get("fanout") or {}).get(w, [])
    if not cfgs:
        return None
    c = cfgs[-1]
    return {k: c.get(k) or {} for k in ("fds_before", "fds_with", "fds_after")}


def _extra_per_ws(fa: dict, wa: int, fb: dict, wb: int) -> float:
    """fds added per websocket, not counting the websocket's own TCP connection."""
    a = (fa["fds_with"].get("fds") or 0) - wa
    b = (fb["fds_with"].get("fds") or 0) - wb
    return (b - a) / max(1, wb - wa)


def rtt_summary(entry: dict, w: str):
    cfgs = (entry.get("fanout") or {}).get(w, [])
    return _med([c["rtt"]["median"] for c in cfgs if c.get("rtt")])


def _ws(results):
    return [str(w) for w in results["args"]["W"]]


def markdown(results: dict) -> str:
    S = results["servers"]
    env = results["env"]
    lines = []
    a = results["args"]
    lines.append(f"# ltt-ext benchmarks ({env['time']}, {env['cpus']} CPUs, Python {env['python']})\n")
    if results.get("partial"):
        lines.append(f"**Partial results ({results['partial']}).**\n")
    lines.append(
        f"Runs per measurement: {a['repeat']} (median; a measurement whose first run took over "
        f"{a['repeat_budget']:.0f} s or timed out is run once: see `n`). "
        f"Load average at start/end: {env['load_avg_start'][0]:.2f} / "
        f"{env.get('load_avg_end', [0])[0]:.2f}. Duration {env.get('duration_s', 0):.0f} s.\n"
    )
    for kind in ORDER + ["ltt-llm"]:
        e = S.get(kind)
        if not e:
            continue
        p = e.get("probe") or {}
        status = e.get("error") or e.get("skipped") or ""
        lines.append(
            f"- **{SHORT[kind]}**: {p.get('multi_kernel_manager', '?')} + "
            f"{(p.get('kernel_websocket_connection_class') or '?').rsplit('.', 1)[-1]}"
            + (f" — **{status}**" if status else "")
        )
    lines.append("")
    d = results.get("direct") or {}
    if d.get("rtt"):
        lines.append(
            "Kernel floor — one jupyter_client straight over ZMQ, no server: "
            + ", ".join(
                f"{mode} {_f((d.get(mode) or {}).get('median_time_to_idle'))} s" for mode in a["modes"]
            )
            + f", `1+1` {_f(d['rtt']['median'], scale=1000)} ms. Everything above that is the server's "
            "(or the machine's) cost.\n"
        )
    up = S.get("upstream", {})
    for mode in a["modes"]:
        m = a["display_m"] if mode == "display" else a["stream_m"]
        what = f"`display(i)` × {m}" if mode == "display" else f"`print(i, flush=True)` × {m}"
        lines.append(f"## Fan-out, {mode} mode ({what}); client 0 runs the cell, W clients receive\n")
        lines.append(
            "| server | W | time to last idle (s) | vs upstream | msgs/s, all clients | msgs/s per client "
            "| complete (idle / outputs) | server CPU (s) | other load CPU (s) | n |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for kind in ORDER:
            e = S.get(kind)
            if not e or not e.get("fanout"):
                continue
            for w in _ws(results):
                s = mode_summary(e, mode, w)
                if s is None:
                    continue
                b = mode_summary(up, mode, w) if up.get("fanout") else None
                got = s["min_displays"] if mode == "display" else s["min_lines"]
                comp = f"{s['idle']} idle, {got}/{m}" + (" ✓" if s["complete_runs"] == s["n"] else " ✗")
                tti = (
                    _f(s["time_to_last_idle"])
                    if s["time_to_last_idle"] is not None
                    else ("no idle" if "no idle" in s["outcomes"] else f"timeout ({_f(s['wall'])})")
                )
                lines.append(
                    f"| {SHORT[kind]} | {w} | {tti} | "
                    f"{_ratio(s['time_to_last_idle'], b['time_to_last_idle']) if b else '–'} | "
                    f"{_f(s['agg_rate'])} | {_f(s['client_rate'])} | {comp} | {_f(s['server_cpu'])} | "
                    f"{_f(s['other_cpu'])} | {s['n']} |"
                )
        lines.append("")
    # fds + rtt
    lines.append(
        "## Server file descriptors (sockets) and `1+1` round trip (client 0, median of "
        f"{a['rtt_n']}, W clients attached)\n"
    )
    lines.append(
        "| server | W | fds before | with W | after close | fds per websocket | sockets before / with / after "
        "| 1+1 round trip (ms) | vs upstream |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for kind in ORDER:
        e = S.get(kind)
        if not e or not e.get("fanout"):
            continue
        for w in _ws(results):
            f = fds_summary(e, w)
            if f is None:
                continue
            r = rtt_summary(e, w)
            rb = rtt_summary(up, w) if up.get("fanout") else None
            per = ((f["fds_with"].get("fds") or 0) - (f["fds_before"].get("fds") or 0)) / int(w)
            lines.append(
                f"| {SHORT[kind]} | {w} | {f['fds_before'].get('fds')} | {f['fds_with'].get('fds')} | "
                f"{f['fds_after'].get('fds')} | {per:.1f} | {f['fds_before'].get('sockets')} / "
                f"{f['fds_with'].get('sockets')} / {f['fds_after'].get('sockets')} | "
                f"{_f(r, scale=1000)} | {_ratio(r, rb)} |"
            )
    lines.append("")
    # tutor overhead
    lt, lo = S.get("ltt", {}), S.get("ltt-notutor", {})
    if lt.get("fanout") and (lo.get("fanout") or lo.get("skipped")):
        lines.append("## Tutor overhead (ltt-ext, display mode): tutor attached vs detached\n")
        if lo.get("skipped"):
            lines.append(f"Not measured: {lo['skipped']}.\n")
        else:
            lines.append("| W | tutor on: last idle (s) | tutor off: last idle (s) | on / off |")
            lines.append("|---|---|---|---|")
            for w in _ws(results):
                s1, s0 = mode_summary(lt, "display", w), mode_summary(lo, "display", w)
                if s1 and s0:
                    lines.append(
                        f"| {w} | {_f(s1['time_to_last_idle'])} | {_f(s0['time_to_last_idle'])} | "
                        f"{_ratio(s1['time_to_last_idle'], s0['time_to_last_idle'])} |"
                    )
            lines.append("")
    # hints
    hb = lt.get("hint_builtin")
    hl = (S.get("ltt-llm") or {}).get("hint_llm")
    if hb or hl:
        lines.append(
            "## Tutor hint latency (error reaches the kernel websocket → hint at a "
            "`/ltt/api/tutor/stream` subscriber; median)\n"
        )
        lines.append(
            "| engine | samples | hint message (ms) | minus debounce (ms) | first token (ms) | "
            "first token minus LLM delay (ms) | minus LLM delay and debounce (ms) | LLM chunk → subscriber (ms) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        if hb:
            lines.append(
                f"| built-in | {hb['n_ok']} | {_f(hb['median_hint_after_error'], scale=1000)} | "
                f"{_f(hb.get('median_hint_minus_debounce'), scale=1000)} | – | – | – | – |"
            )
        if hl:
            lines.append(
                f"| LLM (local, {hl['llm_delay'] * 1000:.0f} ms delay) | {hl['n_ok']} | "
                f"{_f(hl['median_hint_after_error'], scale=1000)} | "
                f"{_f(hl.get('median_hint_minus_debounce'), scale=1000)} | "
                f"{_f(hl.get('median_first_token_after_error'), scale=1000)} | "
                f"{_f(hl.get('median_first_token_minus_llm_delay'), scale=1000)} | "
                f"{_f(hl.get('median_first_token_minus_llm_delay_and_debounce'), scale=1000)} | "
                f"{_f(hl.get('median_forward_first_token'), scale=1000)} |"
            )
        deb = (hb or hl).get("debounce")
        lines.append(
            f"\nThe tutor waits `Tutor.proactive_delay` = {deb} s (its debounce) before a proactive hint;"
            " the 'minus debounce' columns are the pipeline's own cost.\n"
        )
    # isolation
    iso_rows = []
    for kind in ORDER:
        e = S.get(kind) or {}
        for ik, iv in (e.get("isolation") or {}).items():
            runs = [r for r in iv["runs"] if r.get("run")]
            skipped = [r for r in iv["runs"] if r.get("skipped")]
            if skipped and not runs:
                iso_rows.append(f"| {SHORT[kind]} | {ik} | – | – | – | – | – | {skipped[0]['skipped']} |")
                continue
            if not runs:
                continue
            tl = [r["run"]["time_to_last_idle"] for r in runs]
            t = _med(tl) if all(x is not None for x in tl) else None
            pb = [r["baseline"]["time_to_last_idle"] for r in runs if r.get("baseline")]
            base = _med(pb) if pb and all(x is not None for x in pb) else iv.get("baseline_time_to_last_idle")
            pairs = [
                r["run"]["time_to_last_idle"] / r["baseline"]["time_to_last_idle"]
                for r in runs
                if r.get("baseline") and r["baseline"]["time_to_last_idle"] and r["run"]["time_to_last_idle"]
            ]
            ratio = _med(pairs) if pairs and len(pairs) == len(runs) else None
            rss_b = _med([r["run"]["rss_before"] for r in runs])
            rss_p = max(r["run"]["rss_peak"] for r in runs)
            comp = all(r["run"]["complete"] for r in runs)
            note = runs[-1].get("stalled_state") or (
                f"listener called {runs[-1].get('slow_listener_calls')}×" if ik == "slow-listener" else ""
            )
            outcome = (
                "" if t is not None else f"{runs[-1]['run']['outcome']} after {_f(runs[-1]['run']['wall'])} s"
            )
            iso_rows.append(
                f"| {SHORT[kind]} | {ik} | {_f(base)} | {_f(t) if t is not None else outcome} | "
                f"{f'{ratio:.2f}×' if ratio is not None else _ratio(t, base)} | {'✓' if comp else '✗'} | "
                f"{rss_b / 2**20:.0f} → {rss_p / 2**20:.0f} | {note} (n={len(runs)}) |"
            )
    if iso_rows:
        lines.append(f"## Isolation: {a['isolation_w']} clients + one stalled consumer (display mode)\n")
        lines.append(
            "| server | stalled consumer | others' last idle without (s) | with (s) | ratio (median of pairs) | others complete "
            "| server RSS before → peak (MiB) | the stalled consumer |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        lines.extend(iso_rows)
        lines.append(
            f"\nEach run is paired with a run without it just before, on the same kernel and clients; `control` attaches nothing (the order effect of running the cell twice). `stalled-ws`: a raw websocket (4 KiB receive buffer) that never reads after the handshake. "
            f"`slow-listener`: an async listener on the shared client that sleeps "
            f"{a['slow_listener_sleep']} s per message.\n"
        )
    # headless
    hrows = []
    for kind in ORDER:
        e = S.get(kind) or {}
        h = e.get("headless")
        if not h:
            continue
        runs = h["runs"]
        ok = [r for r in runs if r.get("time_to_disk") is not None]
        if ok:
            hrows.append(
                f"| {SHORT[kind]} | {len(ok)}/{len(runs)} | {_f(_med([r['time_to_disk'] for r in ok]))} | "
                f"{ok[0]['disk'].get('lines')} | {ok[0]['disk'].get('outputs')} | "
                f"{max(r['rss_peak'] for r in ok) / 2**20:.0f} |"
            )
        else:
            r = runs[-1] if runs else {}
            hrows.append(
                f"| {SHORT[kind]} | 0/{len(runs)} | {r.get('error') or 'incomplete after ' + _f(r.get('waited')) + ' s'} | "
                f"{(r.get('disk') or {}).get('lines')} | {(r.get('disk') or {}).get('outputs')} | "
                f"{(r.get('rss_peak') or 0) / 2**20:.0f} |"
            )
    if hrows:
        lines.append(
            f"## Headless outputs: a cell printing {a['headless_lines']} lines via "
            "`POST /api/kernels/<id>/execute`, no browser\n"
        )
        lines.append(
            "| server | complete runs | time until the .ipynb holds every line (s) | lines on disk "
            "| output entries | server peak RSS (MiB) |"
        )
        lines.append("|---|---|---|---|---|---|")
        lines.extend(hrows)
        lines.append("\n(upstream has no server-side documents: not applicable.)\n")
    from .report_scale import sections  # it builds on this module's helpers

    lines.extend(sections(results))
    lines.extend(targets(results))
    return "\n".join(lines) + "\n"


def targets(results: dict) -> list[str]:
    S = results["servers"]
    lt, up, lo = S.get("ltt") or {}, S.get("upstream") or {}, S.get("ltt-notutor") or {}
    if not lt.get("fanout"):
        return []
    out = ["## Issue-5 targets for ltt-ext\n", "| target | measured | met |", "|---|---|---|"]
    ws = _ws(results)
    modes = results["args"]["modes"]

    def row(name, measured, ok):
        out.append(f"| {name} | {measured} | {'✓' if ok else ('✗' if ok is False else '?')} |")

    lost = []
    for mode in modes:
        for w in ws:
            s = mode_summary(lt, mode, w)
            if s and s["complete_runs"] < s["n"]:
                why = "timed out" if "timeout" in s["outcomes"] else "idle/outputs lost"
                lost.append(f"{mode} W={w} ({why})")
    row(
        "no output lost (every configuration)",
        "none lost" if not lost else "incomplete: " + ", ".join(lost),
        not lost,
    )
    if up.get("fanout"):
        for w, factor, name in (
            ("50", 1 / 3, "W=50 display: last idle ≤ 1/3 of upstream"),
            ("1", 1.10, "W=1 display: within 10% of upstream"),
        ):
            s, b = mode_summary(lt, "display", w), mode_summary(up, "display", w)
            if s and b and s["time_to_last_idle"] and b["time_to_last_idle"]:
                r = s["time_to_last_idle"] / b["time_to_last_idle"]
                row(name, f"{r:.2f}× upstream", r <= factor)
    f1, fmax = fds_summary(lt, ws[0]), fds_summary(lt, ws[-1])
    if f1 and fmax and len(ws) > 1:
        per = _extra_per_ws(f1, int(ws[0]), fmax, int(ws[-1]))
        row(
            "server fds independent of W (beyond each websocket's own TCP socket)",
            f"{f1['fds_with'].get('fds')} fds at W={ws[0]}, {fmax['fds_with'].get('fds')} at W={ws[-1]}: "
            f"{per:+.2f} extra fds per websocket",
            abs(per) < 0.1,
        )
    if lo.get("fanout"):
        rs = []
        for w in ws:
            s1, s0 = mode_summary(lt, "display", w), mode_summary(lo, "display", w)
            if s1 and s0 and s1["time_to_last_idle"] and s0["time_to_last_idle"]:
                rs.append(s1["time_to_last_idle"] / s0["time_to_last_idle"])
        if rs:
            row(
                "tutor attached: ≤ 5% slower fan-out",
                ", ".join(f"W={w}: {r:.2f}×" for w, r in zip(ws, rs, strict=False)),
                max(rs) <= 1.05,
            )
    elif lo.get("skipped"):
        row("tutor attached: ≤ 5% slower fan-out", lo["skipped"], None)
    hb = lt.get("hint_builtin")
    if hb and hb.get("median_hint_after_error") is not None:
        row(
            "built-in hint within 50 ms of the error",
            f"{hb['median_hint_after_error'] * 1000:.0f} ms ({hb['median_hint_minus_debounce'] * 1000:.0f} ms "
            f"+ {hb['debounce']} s debounce)",
            hb["median_hint_after_error"] <= 0.05,
        )
    r1 = rtt_summary(lt, ws[0])
    if r1 is not None:
        row(f"`1+1` round trip ≤ 10 ms (W={ws[0]})", f"{r1 * 1000:.1f} ms", r1 <= 0.010)
    for ik, iv in (lt.get("isolation") or {}).items():
        if ik == "control":
            continue
        runs = [r for r in iv["runs"] if r.get("run")]
        if not runs:
            continue
        pairs = [
            r["run"]["time_to_last_idle"] / r["baseline"]["time_to_last_idle"]
            for r in runs
            if r.get("baseline") and r["baseline"]["time_to_last_idle"] and r["run"]["time_to_last_idle"]
        ]
        if pairs and len(pairs) == len(runs):
            ratio = _med(pairs)
            growth = max(r["run"]["rss_peak"] - r["run"]["rss_before"] for r in runs) / 2**20
            row(
                f"isolation ({ik}): others within 10%, memory bounded",
                f"{ratio:.2f}× the paired run without it, RSS +{growth:.0f} MiB",
                ratio <= 1.10 and growth < 100,
            )
        else:
            row(f"isolation ({ik}): others within 10%, memory bounded", "others did not reach idle", False)
    out.append("")
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    S = results["servers"]
    modes = results["args"]["modes"]
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    styles = {
        "upstream": ("tab:gray", "o"),
        "nextgen": ("tab:red", "s"),
        "ltt": ("tab:blue", "^"),
        "ltt-notutor": ("tab:cyan", "v"),
    }
    for ax, mode in zip(axes[0], modes, strict=True):
        for kind in ORDER:
            e = S.get(kind) or {}
            if not e.get("fanout"):
                continue
            xs, ys, incomplete = [], [], []
            for w in _ws(results):
                s = mode_summary(e, mode, w)
                if s and s["agg_rate"]:
                    xs.append(int(w))
                    ys.append(s["agg_rate"])
                    incomplete.append(s["complete_runs"] < s["n"])
            if not xs:
                continue
            color, marker = styles[kind]
            ax.plot(xs, ys, marker=marker, color=color, label=SHORT[kind])
            for x, y, bad in zip(xs, ys, incomplete, strict=True):
                if bad:
                    ax.plot([x], [y], marker="x", color="black", markersize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([int(w) for w in _ws(results)])
        ax.set_xticklabels(_ws(results))
        ax.set_xlabel("websocket clients W")
        ax.set_ylabel("messages/s delivered (all clients)")
        m = results["args"]["display_m"] if mode == "display" else results["args"]["stream_m"]
        ax.set_title(f"{mode} mode ({m} outputs)" + "\n× = incomplete (outputs or idle lost, or timed out)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Kernel message fan-out, one kernel (higher is better)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
