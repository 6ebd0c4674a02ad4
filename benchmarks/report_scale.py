"""Report sections for issue 14: CPU per delivered frame, many kernels, connection storm, large outputs."""

from __future__ import annotations

from .report import ORDER, SHORT, _f, _med, _ratio, mode_summary

FRAME_GOAL_US = 5.0


def _frame_us(entry: dict, w: str) -> float | None:
    runs = [c["display"] for c in (entry.get("fanout") or {}).get(w, []) if c.get("display")]
    vals = [r["server_cpu"] / r["total_msgs"] * 1e6 for r in runs if r.get("total_msgs")]
    return _med(vals)


def frame_cpu(results: dict) -> list[str]:
    S = results["servers"]
    ws = [str(w) for w in results["args"]["W"]]
    rows = []
    for kind in ORDER:
        e = S.get(kind) or {}
        if not e.get("fanout"):
            continue
        cells = []
        for w in ws:
            us = _frame_us(e, w)
            s = mode_summary(e, "display", w)
            done = s is not None and s["complete_runs"] == s["n"]
            cells.append("–" if us is None else f"{us:.1f}" + ("" if done else " ✗"))
        rows.append(f"| {SHORT[kind]} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    out = [
        "## Server CPU per delivered frame (display mode, µs; server-process CPU time ÷ frames "
        "received by all clients)\n",
        "| server | " + " | ".join(f"W={w}" for w in ws) + " |",
        "|---|" + "---|" * len(ws),
        *rows,
        "\n✗: some output or idle status was lost, or the run timed out (the figure then counts what "
        "arrived).\n",
    ]
    return out


def scale(results: dict) -> list[str]:
    S = results["servers"]
    up = (S.get("upstream") or {}).get("scale") or {}
    many_rows, storm_rows = [], []
    for kind in ORDER:
        sc = (S.get(kind) or {}).get("scale")
        if not sc:
            continue
        m = sc.get("many") or {}
        if m.get("error"):
            many_rows.append(f"| {SHORT[kind]} | {m['error']} | | | | | | | |")
        elif m:
            um = up.get("many") or {}
            many_rows.append(
                f"| {SHORT[kind]} | {m['complete_kernels']}/{m['K']} (min {m['min_lines']} lines) | "
                f"{_f(m['lone']['time_to_last_idle'])} | {_f(m.get('median_time_to_idle'))} / "
                f"{_f(m.get('max_time_to_idle')) if m.get('max_time_to_idle') else 'not all idle'} | "
                f"{_f(m.get('ratio_median_to_fair'))} / {_f(m.get('ratio_max_to_fair'))} | "
                f"{_ratio(m.get('median_time_to_idle'), um.get('median_time_to_idle'))} | "
                f"{_f(m.get('server_cpu'))} | "
                f"{m['rss_before'] / 2**20:.0f} → {m['rss_peak'] / 2**20:.0f} → {m['rss_after'] / 2**20:.0f} | "
                f"{m['fds_before'].get('fds')} / {m['fds_with'].get('fds')} / {m['fds_after'].get('fds')} |"
            )
        st = sc.get("storm") or {}
        if st.get("error"):
            storm_rows.append(f"| {SHORT[kind]} | {st['error']} | | | | |")
        elif st:
            us = up.get("storm") or {}
            info, status = st["kernel_info_reply"], st["status"]
            storm_rows.append(
                f"| {SHORT[kind]} | {st['opened']}/{st['N']} | {st['failures']} | "
                f"{_f(info['median'], scale=1000)} / {_f(info['max'], scale=1000)} | "
                f"{_f(status['median'], scale=1000)} / {_f(status['max'], scale=1000)} | "
                f"{_ratio(info['max'], (us.get('kernel_info_reply') or {}).get('max'))} | "
                f"{_f(st['server_cpu'])} | {st['fds_with'].get('fds')} |"
            )
    a = results["args"]
    out = []
    if many_rows:
        out += [
            f"## Many kernels at once: {a['scale_kernels']} kernels × {a['scale_ws']} websockets, each "
            f"kernel printing {a['scale_lines']} lines at full speed (`print(i, flush=True)`)\n",
            f"| server | kernels complete | lone kernel: last idle (s) | {a['scale_kernels']} at once: median / max "
            "last idle (s) "
            "| ÷ fair share (median / max) | median vs upstream | server CPU (s) "
            "| server RSS before → peak → after (MiB) | fds before / with / after |",
            "|---|---|---|---|---|---|---|---|---|",
            *many_rows,
            "\n*Fair share*: the lone kernel's time × kernels ÷ CPUs (each kernel gets CPUs/kernels of "
            "the machine at best; the server and the harness need some too). Target: ≤ 2.\n",
        ]
    if storm_rows:
        out += [
            f"## Connection storm: {a['storm_n']} websockets connecting at the same moment to a "
            "just-started kernel, each sending `kernel_info_request` (as JupyterLab does)\n",
            "| server | opened | failures (no reply or no status) | kernel_info_reply median / max (ms) "
            "| first status median / max (ms) | max reply vs upstream | server CPU (s) | fds with all |",
            "|---|---|---|---|---|---|---|---|",
            *storm_rows,
            "\nTimes from the moment all connections start (the kernel was started just before).\n",
        ]
    return out


def large(results: dict) -> list[str]:
    e = results["servers"].get("ltt-large") or {}
    a, b = e.get("in_ydoc") or {}, e.get("out_of_ydoc") or {}
    if not a or not b or a.get("error") or b.get("error"):
        err = a.get("error") or b.get("error")
        return [f"## Large outputs\n\nNot measured: {err}\n"] if err else []

    def mb(x):
        return f"{x / 1e6:.2f} MB" if x >= 1e5 else (f"{x / 1e3:.1f} kB" if x else "0")

    rows = [
        (
            "server YDoc (full state)",
            mb(a["ydoc_bytes"]),
            mb(b["ydoc_bytes"]),
            _small_ratio(b["ydoc_bytes"], a["ydoc_bytes"]),
        ),
        (
            "outputs in the YDoc (JSON)",
            mb(a["ydoc_outputs_json_bytes"]),
            f"{b['ydoc_outputs_json_bytes']} B",
            _small_ratio(b["ydoc_outputs_json_bytes"], a["ydoc_outputs_json_bytes"]),
        ),
        (
            "second tab: YDoc sync (ms)",
            _f(a["second_tab"]["sync_s"], scale=1000),
            _f(b["second_tab"]["sync_s"], scale=1000),
            _ratio(b["second_tab"]["sync_s"], a["second_tab"]["sync_s"]),
        ),
        (
            "second tab: bytes synced",
            mb(a["second_tab"]["sync_bytes"]),
            mb(b["second_tab"]["sync_bytes"]),
            _small_ratio(b["second_tab"]["sync_bytes"], a["second_tab"]["sync_bytes"]),
        ),
        (
            "second tab: bytes fetched from /api/outputs",
            mb(a["second_tab"]["fetched_bytes"]),
            mb(b["second_tab"]["fetched_bytes"]),
            "–",
        ),
        (
            "second tab: sync + fetch of the moved outputs (ms)",
            _f(a["second_tab"]["open_with_outputs_s"], scale=1000),
            _f(b["second_tab"]["open_with_outputs_s"], scale=1000),
            _ratio(b["second_tab"]["open_with_outputs_s"], a["second_tab"]["open_with_outputs_s"]),
        ),
        (
            "server RSS growth after the run (MiB)",
            f"{(a['rss_after'] - a['rss_before']) / 2**20:.0f}",
            f"{(b['rss_after'] - b['rss_before']) / 2**20:.0f}",
            _ratio(b["rss_after"] - b["rss_before"], a["rss_after"] - a["rss_before"]),
        ),
        (
            "server RSS peak during the run (MiB)",
            f"{a['rss_peak'] / 2**20:.0f}",
            f"{b['rss_peak'] / 2**20:.0f}",
            _ratio(b["rss_peak"], a["rss_peak"]),
        ),
        (
            "the .ipynb holds every line and the whole image",
            "✓" if a["on_disk"] else "✗",
            "✓" if b["on_disk"] else "✗",
            "",
        ),
    ]
    return [
        "## Large outputs: a cell printing 100,000 lines and a cell showing a 5 MB image\n",
        f"ltt-ext with every output in the YDoc (`LargeOutputsManager.inline_limit=0`, as before) vs the "
        f"shipped limit ({b['inline_limit'] // 1024} KiB), each on a fresh server.\n",
        "| | in the YDoc | out of the YDoc | out / in |",
        "|---|---|---|---|",
        *(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows),
        "",
    ]


def _small_ratio(x, base) -> str:
    if not x or not base:
        return "–"
    return f"1/{base / x:,.0f}" if x / base < 0.01 else f"{x / base:.2f}×"


def targets(results: dict) -> list[str]:
    S = results["servers"]
    lt = S.get("ltt") or {}
    out = ["## Issue-14 targets for ltt-ext\n", "| target | measured | met |", "|---|---|---|"]

    def row(name, measured, ok):
        out.append(f"| {name} | {measured} | {'✓' if ok else ('✗' if ok is False else '?')} |")

    for w in ("100", "200"):
        us = _frame_us(lt, w)
        s = mode_summary(lt, "display", w)
        if us is not None and s is not None:
            row(
                f"≤ {FRAME_GOAL_US:.0f} µs server CPU per delivered frame, W={w}, nothing lost",
                f"{us:.2f} µs, {s['complete_runs']}/{s['n']} runs complete",
                us <= FRAME_GOAL_US and s["complete_runs"] == s["n"],
            )
    m = (lt.get("scale") or {}).get("many") or {}
    if m and not m.get("error"):
        ok = m["complete_kernels"] == m["K"] and (m.get("ratio_max_to_fair") or 99) <= 2
        row(
            f"{m['K']} kernels × {m['W']} websockets: nothing lost, each within 2× its fair share",
            f"{m['complete_kernels']}/{m['K']} complete, max {_f(m.get('ratio_max_to_fair'))}× fair share",
            ok,
        )
    st = (lt.get("scale") or {}).get("storm") or {}
    if st and not st.get("error"):
        row(
            f"{st['N']} websockets at once: every one gets kernel_info_reply and status",
            f"{st['failures']} failures, reply max {_f(st['kernel_info_reply']['max'], scale=1000)} ms",
            st["failures"] == 0,
        )
    lg = S.get("ltt-large") or {}
    a, b = lg.get("in_ydoc") or {}, lg.get("out_of_ydoc") or {}
    if a.get("ydoc_bytes") and b.get("ydoc_bytes"):
        row(
            "large outputs out of the YDoc (placeholders only), full on disk",
            f"outputs in the YDoc {a['ydoc_outputs_json_bytes'] / 1e6:.2f} MB → "
            f"{b['ydoc_outputs_json_bytes']} bytes; whole YDoc {a['ydoc_bytes'] / 1e6:.2f} MB → "
            f"{b['ydoc_bytes'] / 1e3:.1f} kB",
            b["ydoc_outputs_json_bytes"] < 10_000 and b.get("on_disk"),
        )
    out.append("")
    return out if len(out) > 4 else []


def sections(results: dict) -> list[str]:
    return [*frame_cpu(results), *scale(results), *large(results), *targets(results)]
