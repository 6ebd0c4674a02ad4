"""What the instructor dashboard shows, computed from the service's records (pure; no I/O).

- **learners × notebooks**: per learner and course notebook (path), errors, hints (with the highest level reached),
  questions, and the last activity;
- **error families**: errors by ``ename``, with how many learners hit each;
- **recent**: the latest hints, answers and errors, with their level;
- **who is stuck now**: a learner whose notebook raised the same family of error ``stuck_errors``
  times within ``stuck_window`` seconds and has not run that cell successfully since, or whose cell
  has been running for ``long_run`` seconds or more.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

RECENT = 60
CSV_FIELDS = [
    "created",
    "learner",
    "lesson",
    "path",
    "file_id",
    "kind",
    "level",
    "ename",
    "evalue",
    "question",
    "text",
    "engine",
    "model",
    "status",
    "prompt_tokens",
    "completion_tokens",
]


def _trim(text: str | None, n: int) -> str:
    text = text or ""
    return text if len(text) <= n else text[: n - 1] + "…"


def stuck(
    rows: list[dict[str, Any]],
    activity: list[dict[str, Any]],
    now: float,
    *,
    stuck_errors: int,
    stuck_window: float,
    long_run: float,
) -> list[dict[str, Any]]:
    """Who is stuck now (see the module's docstring); ``rows`` newest first."""
    out: list[dict[str, Any]] = []
    by_nb: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if r["kind"] in ("error", "fixed") and now - r["created"] <= stuck_window:
            by_nb[(r["learner"], r["file_id"])].append(r)
    for (learner, _file_id), items in by_nb.items():
        counts: dict[str, list[dict]] = defaultdict(list)
        fixed_cells: set[str | None] = set()
        for r in items:  # newest first: a fix hides the errors of that cell before it
            if r["kind"] == "fixed":
                fixed_cells.add(r["cell_id"])
                continue
            if r["cell_id"] in fixed_cells:
                continue
            counts[r["ename"] or "Error"].append(r)
        for ename, errs in counts.items():
            if len(errs) >= stuck_errors:
                out.append(
                    {
                        "learner": learner,
                        "path": errs[0]["path"],
                        "reason": "repeated",
                        "ename": ename,
                        "count": len(errs),
                        "since": errs[-1]["created"],
                        "last": errs[0]["created"],
                    }
                )
    for a in activity:
        if a.get("busy_since") is not None and now - a["busy_since"] >= long_run:
            out.append(
                {
                    "learner": a["learner"],
                    "path": a["path"],
                    "reason": "long_run",
                    "ename": None,
                    "count": None,
                    "since": a["busy_since"],
                    "last": a["updated"],
                }
            )
    out.sort(key=lambda s: s["since"])
    return out


def summary(
    rows: list[dict[str, Any]],
    activity: list[dict[str, Any]],
    now: float,
    *,
    stuck_errors: int = 3,
    stuck_window: float = 600.0,
    long_run: float = 120.0,
) -> dict[str, Any]:
    """The dashboard's data from filtered records (newest first) and activity rows."""
    matrix: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    # a column is a course notebook (its path): each learner has their own copy (file id); a copy
    # renamed later is shown under its latest name
    current: dict[tuple[str, str], str] = {}
    for r in rows:
        current.setdefault((r["learner"], r["file_id"]), r["path"])
    families: dict[str, dict[str, Any]] = {}
    lessons: set[str] = set()
    for r in rows:
        lessons.add(r["lesson"] or "")
        path = current[(r["learner"], r["file_id"])]
        cell = matrix[r["learner"]].setdefault(
            path, {"errors": 0, "hints": 0, "questions": 0, "max_level": 0, "last": r["created"]}
        )
        cell["last"] = max(cell["last"], r["created"])
        if r["kind"] == "error":
            cell["errors"] += 1
            f = families.setdefault(
                r["ename"] or "Error",
                {"ename": r["ename"] or "Error", "count": 0, "learners": set(), "last": 0},
            )
            f["count"] += 1
            f["learners"].add(r["learner"])
            f["last"] = max(f["last"], r["created"])
        elif r["kind"] == "hint":
            cell["hints"] += 1
            cell["max_level"] = max(cell["max_level"], r["level"] or 0)
        elif r["kind"] == "answer":
            cell["questions"] += 1
    fams = sorted(families.values(), key=lambda f: (-f["count"], f["ename"]))
    recent = [
        {
            "id": r["id"],
            "created": r["created"],
            "learner": r["learner"],
            "path": r["path"],
            "kind": r["kind"],
            "level": r["level"],
            "ename": r["ename"],
            "evalue": _trim(r["evalue"], 300),
            "question": _trim(r["question"], 500),
            "text": _trim(r["text"], 800),
            "status": r["status"],
        }
        for r in rows
        if r["kind"] in ("error", "hint", "answer")
    ][:RECENT]
    return {
        "now": now,
        "learners": sorted(matrix),
        "notebooks": sorted(set(current.values())),
        "matrix": matrix,
        "families": [{**f, "learners": len(f["learners"])} for f in fams],
        "recent": recent,
        "stuck": stuck(
            rows, activity, now, stuck_errors=stuck_errors, stuck_window=stuck_window, long_run=long_run
        ),
        "lessons": sorted(lessons),
    }


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (learner text is untrusted)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for r in rows:
        w.writerow([_cell(r.get(f)) for f in CSV_FIELDS])
    return buf.getvalue()
