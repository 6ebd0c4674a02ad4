"""Evaluate the built-in tutor's hints on a corpus of beginner errors (benchmarks/hint_corpus.py),
through a real Jupyter server with ltt-ext and a real ipykernel.

For each case: a notebook with the case's cells and a session (its kernel), the setup cells run
over the kernel websocket, then the failing cell; the tutor's proactive level-1 hint is read from
the tutor's websocket stream, then "More help" (``POST /ltt/api/tutor/more``) twice. Each level is
scored (:func:`score`), and a table per family is printed: % specific at level 1, at levels 1–2,
% correct, % revealing, median latency from the error's ``execute_reply`` to the hint's final
text (runtime inspection included once the service does it).

    python -m benchmarks.hint_eval [--heldout] [--family F ...] [--case ID ...] [--no-facts] [--json out.json] [-v]

``--heldout`` evaluates benchmarks/hint_heldout.py instead: cases written apart from the engine, by
someone who did not read its rules, to measure whether they generalise.

Every case gets its own notebook and kernel; families only group the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field

from .hint_corpus import ALWAYS_WRONG, CASES, Case, _has

TARGETS = {"specific_l1": 80.0, "specific_l12": 95.0, "correct": 100.0, "revealing": 0.0, "latency_ms": 50.0}


@dataclass
class Score:
    case: str
    family: str
    specific_l1: bool
    specific_l12: bool
    correct: bool
    revealing: bool
    missing_l1: list[str] = field(default_factory=list)
    missing_l12: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    revealed: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    error: str | None = None
    texts: list[str] = field(default_factory=list)


def score(case: Case, texts: list[str], latency_ms: float | None = None) -> Score:
    """Score the three levels' texts (level 1 first) against the case's expectations."""
    l1 = texts[0] if texts else ""
    l12 = "\n".join(texts[:2])
    everything = "\n".join(texts)
    missing_l1 = [w for w in case.l1 if not _has(l1, w)]
    missing_l12 = [w for w in case.l1 + case.l2 if not _has(l12, w)]
    wrong = [w for w in case.wrong + ALWAYS_WRONG if any(_has(t, w) for t in texts)]
    if case.lines:
        for t in texts:
            for m in re.finditer(r"\b[Ll]ines? (\d+)\b", t):
                if int(m.group(1)) not in case.lines:
                    wrong.append(f"line {m.group(1)}")
    revealed = [f for f in case.fix if _has(everything, f)]
    return Score(
        case.id,
        case.family,
        specific_l1=not missing_l1 and bool(l1),
        specific_l12=not missing_l12 and bool(l12),
        correct=not wrong and len(texts) == 3,
        revealing=bool(revealed),
        missing_l1=missing_l1,
        missing_l12=missing_l12,
        wrong=sorted(set(wrong)),
        revealed=revealed,
        latency_ms=latency_ms,
        texts=list(texts),
    )


def failed(case: Case, error: str) -> Score:
    return Score(case.id, case.family, False, False, False, False, error=error)


def table(scores: list[Score]) -> str:
    """Markdown table per family, then the total."""
    fams = list(dict.fromkeys(s.family for s in scores))
    rows = [
        "| family | cases | specific L1 | specific L1–2 | correct | revealing | median latency |",
        "|---|---|---|---|---|---|---|",
    ]

    def line(name: str, ss: list[Score]) -> str:
        n = len(ss)
        pct = lambda k: f"{100 * sum(getattr(s, k) for s in ss) / n:.0f}%"  # noqa: E731
        lat = [s.latency_ms for s in ss if s.latency_ms is not None]
        med = f"{statistics.median(lat):.0f} ms" if lat else "–"
        return f"| {name} | {n} | {pct('specific_l1')} | {pct('specific_l12')} | {pct('correct')} | {pct('revealing')} | {med} |"

    for fam in fams:
        rows.append(line(fam, [s for s in scores if s.family == fam]))
    rows.append(line(f"**all ({len(fams)} families)**", scores))
    return "\n".join(rows)


def totals(scores: list[Score]) -> dict:
    n = len(scores) or 1
    lat = [s.latency_ms for s in scores if s.latency_ms is not None]
    return {
        "cases": len(scores),
        "families": len({s.family for s in scores}),
        "specific_l1": 100 * sum(s.specific_l1 for s in scores) / n,
        "specific_l12": 100 * sum(s.specific_l12 for s in scores) / n,
        "correct": 100 * sum(s.correct for s in scores) / n,
        "revealing": 100 * sum(s.revealing for s in scores) / n,
        "latency_ms": statistics.median(lat) if lat else None,
    }


def meets_targets(t: dict) -> bool:
    return (
        t["specific_l1"] >= TARGETS["specific_l1"]
        and t["specific_l12"] >= TARGETS["specific_l12"]
        and t["correct"] >= TARGETS["correct"]
        and t["revealing"] <= TARGETS["revealing"]
        and (t["latency_ms"] is not None and t["latency_ms"] <= TARGETS["latency_ms"])
    )


# -- running through a real server -----------------------------------------------------------------


def notebook_json(case: Case, tag: str) -> tuple[dict, list[str]]:
    """The case as a notebook: setup cells, never-run cells, the failing cell (ids <tag>-s0..,
    <tag>-u0.., <tag>-fail: unique across a kernel's notebooks, as the tutor maps cell ids to them)."""
    cells = []
    ids = []
    for prefix, sources in (("s", case.setup), ("u", case.unrun), ("f", (case.code,))):
        for i, src in enumerate(sources):
            cid = f"{tag}-{prefix}{i}" if prefix != "f" else f"{tag}-fail"
            ids.append(cid)
            cells.append(
                {
                    "cell_type": "code",
                    "id": cid,
                    "source": src,
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                }
            )
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": cells,
    }
    return nb, ids


class _Family:
    """A family's cases, each with its own notebook, session and kernel (a clean namespace, and
    no doubt about which notebook an execution belongs to)."""

    def __init__(self, server, family: str):
        self.server, self.family = server, family
        self.session: str | None = None
        self.client = None

    async def open_case(self, case: Case, index: int) -> tuple[str, str]:
        from base64 import b64encode

        from .wsclient import KernelClient

        folder = f"{self.family}-{index}"
        await self.server.request("PUT", f"/api/contents/{folder}", {"type": "directory"})
        for name, data in case.files.items():
            await self.server.request(
                "PUT",
                f"/api/contents/{folder}/{name}",
                {"type": "file", "format": "base64", "content": b64encode(data).decode()},
            )
        path = f"{folder}/{case.id}.ipynb"
        nb, _ = notebook_json(case, f"c{index}")
        await self.server.request(
            "PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json", "content": nb}
        )
        session = await self.server.request(
            "POST",
            "/api/sessions",
            {
                "path": path,
                "type": "notebook",
                "name": path.rsplit("/", 1)[-1],
                "kernel": {"name": "python3"},
            },
            timeout=60,
        )
        self.session = session["id"]
        self.client = KernelClient(self.server, session["kernel"]["id"])
        await self.client.connect()
        return path, folder

    async def run(self, code: str, cell_id: str | None = None, timeout: float = 60.0):
        run = self.client.execute(code, cell_id=cell_id)  # type: ignore[union-attr]
        await asyncio.wait_for(run.done.wait(), timeout)
        return run

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            await asyncio.sleep(0.05)  # let the websocket's close finish
        if self.session is not None:
            try:
                await self.server.request("DELETE", f"/api/sessions/{self.session}", timeout=30)
            except Exception:
                pass
            self.session = None


async def run_case(fam: _Family, case: Case, index: int, timeout: float = 30.0) -> Score:
    from .tutor import TutorStream

    path, folder = await fam.open_case(case, index)
    await fam.run(f"%cd -q {fam.server.root / folder}")  # relative file names resolve there
    stream = TutorStream(fam.server, path)
    await stream.connect()
    try:
        for i, src in enumerate(case.setup):
            run = await fam.run(src, cell_id=f"c{index}-s{i}")
            if run.errors:
                return failed(case, f"setup cell {i} raised {run.errors[0][1].get('ename')}")
        start = len(stream.events)
        run = await fam.run(case.code, cell_id=f"c{index}-fail")
        if not run.errors:
            return failed(case, "the cell did not raise")
        ename = run.errors[0][1].get("ename")
        if ename != case.ename:
            return failed(case, f"raised {ename}, expected {case.ename}")
        t_reply = run.t_reply if run.t_reply is not None else run.t_idle
        texts: list[str] = []
        latency = None
        for level in (1, 2, 3):
            if level > 1:
                start = len(stream.events)
                await fam.server.request(
                    "POST", "/ltt/api/tutor/more", {"path": path, "cell_id": f"c{index}-fail"}
                )
            t, ev = await stream.wait_for(
                lambda ev, level=level: (
                    ev.get("type") == "update"
                    and (ev.get("message") or {}).get("kind") == "hint"
                    and (ev.get("message") or {}).get("level") == level
                    and (ev.get("message") or {}).get("status") == "done"
                ),
                start,
                timeout,
            )
            if ev is None:
                return failed(case, f"no level-{level} hint")
            texts.append(ev["message"]["text"])
            if level == 1 and t_reply is not None:
                # t is wall-clock (time.time) at arrival; t_reply is perf_counter: convert
                latency = (t - (time.time() - (time.perf_counter() - t_reply))) * 1000
        return score(case, texts, latency)
    finally:
        stream.close()
        await fam.close()


async def evaluate(
    cases: list[Case], verbose: bool = False, server_args: list[str] | None = None
) -> list[Score]:
    from .servers import Server

    server = Server("ltt", extra_args=["--Tutor.model=", "--Tutor.proactive_delay=0", *(server_args or [])])
    await server.start()
    scores: list[Score] = []
    try:
        by_family: dict[str, list[Case]] = {}
        for c in cases:
            by_family.setdefault(c.family, []).append(c)
        for family, fcases in by_family.items():
            fam = _Family(server, family)
            try:
                for i, case in enumerate(fcases):
                    for attempt in (1, 2):  # a kernel slow to start on a busy machine gets a second try
                        try:
                            s = await run_case(fam, case, i if attempt == 1 else i + 1000)
                            break
                        except Exception as e:  # report, and go on with the next case
                            s = failed(case, f"{type(e).__name__}: {e}")
                            await fam.close()
                    scores.append(s)
                    if verbose:
                        _print_case(s)
            finally:
                await fam.close()
    finally:
        server.stop()
        server.cleanup()
    return scores


def _print_case(s: Score) -> None:
    flags = [
        "L1" if s.specific_l1 else "l1-",
        "L12" if s.specific_l12 else "l12-",
        "ok" if s.correct else "WRONG",
        "REVEAL" if s.revealing else "",
    ]
    print(
        f"--- {s.case} [{s.family}] {' '.join(f for f in flags if f)} {s.latency_ms and round(s.latency_ms)} ms",
        file=sys.stderr,
    )
    if s.error:
        print(f"    ERROR: {s.error}", file=sys.stderr)
    for what, items in (
        ("missing L1", s.missing_l1),
        ("missing L12", s.missing_l12),
        ("wrong", s.wrong),
        ("revealed", s.revealed),
    ):
        if items:
            print(f"    {what}: {items}", file=sys.stderr)
    for t in s.texts:
        print("    | " + t.replace("\n", "\n    | "), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", action="append", help="only these families")
    ap.add_argument("--case", action="append", help="only these case ids")
    ap.add_argument("--json", help="write every case's texts and scores here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each case's hints")
    ap.add_argument(
        "--no-facts",
        action="store_true",
        help="hint without the runtime inspection (--Tutor.runtime_facts=False): code and traceback only",
    )
    ap.add_argument(
        "--heldout",
        action="store_true",
        help="the held-out cases (benchmarks/hint_heldout.py, not the ones the engine is tuned on) instead "
        "of the corpus; those that read input() are left to the in-process test",
    )
    args = ap.parse_args(argv)
    if args.heldout:
        from .hint_heldout import HELDOUT, TYPED

        pool = [c for c in HELDOUT if c.id not in TYPED]
    else:
        pool = CASES
    cases = [
        c
        for c in pool
        if (not args.family or c.family in args.family) and (not args.case or c.id in args.case)
    ]
    t0 = time.monotonic()
    server_args = ["--Tutor.runtime_facts=False"] if args.no_facts else []
    scores = asyncio.run(evaluate(cases, args.verbose, server_args))
    print(table(scores))
    t = totals(scores)
    print(
        f"\n{t['cases']} cases, {t['families']} families, {time.monotonic() - t0:.0f} s. Targets: specific L1 ≥ 80%, "
        f"L1–2 ≥ 95%, correct 100%, revealing 0%, median latency ≤ 50 ms: {'met' if meets_targets(t) else 'NOT met'}."
    )
    bad = [s for s in scores if s.error or not (s.specific_l12 and s.correct) or s.revealing]
    for s in bad:
        print(f"- {s.case}: {s.error or ''} missing={s.missing_l12} wrong={s.wrong} revealed={s.revealed}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([s.__dict__ for s in scores], f, indent=1)
    return 0 if meets_targets(t) else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Score", "evaluate", "main", "score", "table", "totals"]
