"""The tutor service's parts without a hub: the store and its migrations, the structured context,
the dashboard's computations, the CSV export. (The real hub: test_course.py.)"""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import insert, inspect, select

from ltt_ext.hub import dashboard
from ltt_ext.hub.protocol import PayloadError, job_from_payload, job_payload
from ltt_ext.hub.store import (
    SCHEMA_VERSION,
    HubStore,
    SchemaTooNew,
    make_engine,
    records,
    schema_version,
    upgrade,
)
from ltt_ext.tutor.context import Cell, ErrorInfo, Execution, NotebookContext
from ltt_ext.tutor.engines import Job
from ltt_ext.tutor.engines.llm import LLMEngine
from ltt_ext.tutor.facts import RuntimeFacts, ValueFact


def run(coro):
    return asyncio.run(coro)


# -- store --------------------------------------------------------------------------------------------


def test_an_old_database_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    engine = make_engine(url)
    assert upgrade(engine, upto=1) == (0, 1)  # the first released schema
    with engine.begin() as conn:
        conn.execute(
            insert(records).values(
                id="r-old",
                learner="alice",
                file_id="f1",
                path="a.ipynb",
                lesson="",
                kind="hint",
                level=2,
                text="old hint",
                status="done",
                created=1.0,
                updated=1.0,
            )
        )
    assert "ltt_activity" not in inspect(engine).get_table_names()
    engine.dispose()

    async def main():
        store = HubStore(url)
        assert await store.open() == (1, SCHEMA_VERSION)
        assert "ltt_activity" in store.tables()
        rows = await store.records(learner="alice")
        await store.set_activity("alice", "f1", "a.ipynb", 5.0)
        act = await store.activity()
        assert await store.open() == (SCHEMA_VERSION, SCHEMA_VERSION)  # idempotent
        await store.close()
        return rows, act

    rows, act = run(main())
    assert [r["text"] for r in rows] == ["old hint"]
    assert act[0]["busy_since"] == 5.0
    with make_engine(url).connect() as conn:
        assert conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(SchemaTooNew):
        upgrade(engine)


def test_usage_and_levels_are_per_learner(tmp_path):
    async def main():
        store = HubStore(f"sqlite:///{tmp_path / 's.sqlite'}")
        await store.open()
        await store.record_usage("alice", requests=1, tokens=100)
        await store.record_usage("bob", tokens=7)
        await store.add_record(
            learner="alice", file_id="f", path="n.ipynb", lesson="", kind="hint", level=2, signature="s"
        )
        out = (
            await store.usage_since("alice", 0),
            await store.usage_since("bob", 0),
            await store.max_level("alice", "f", "s"),
            await store.max_level("bob", "f", "s"),
        )
        await store.close()
        return out

    alice, bob, level_a, level_b = run(main())
    assert [(r, t) for _, r, t in alice] == [(1, 100)] and [(r, t) for _, r, t in bob] == [(0, 7)]
    assert level_a == 2 and level_b is None


# -- the structured context ---------------------------------------------------------------------------


def _job() -> Job:
    ctx = NotebookContext("lesson1/lists.ipynb")
    ctx.cells = [
        Cell("c0", "code", "numbers = [1, 2, 3]"),
        Cell("c1", "code", "numbers[3]"),
        Cell("m", "markdown", "# Lists"),
    ]
    ok = Execution("k", "m0", code="numbers = [1, 2, 3]", execution_count=1, cell_id="c0")
    ctx.record(ok)
    bad = Execution("k", "m1", code="numbers[3]", execution_count=2, cell_id="c1")
    bad.error = ErrorInfo(
        "IndexError", "list index out of range", ["Cell In[2], line 1", "IndexError: list index out of range"]
    )
    ctx.record(bad)
    facts = RuntimeFacts(
        values={
            "numbers": ValueFact("numbers", "list", builtin=True, length=3, item_types=("int", "int", "int"))
        }
    )
    return Job(
        "hint", ctx, bad, 2, facts=facts, names=ctx.names(), turns=[("learner", "why?"), ("tutor", "look")]
    )


def test_the_service_builds_the_same_prompt_from_the_structured_context():
    job = _job()
    body = json.loads(json.dumps(job_payload(job, file_id="fid-1", cell_id="c1", consent=True)))
    assert "messages" not in body and "prompt" not in json.dumps(body).lower()
    rebuilt, meta = job_from_payload(body)
    assert meta == {"path": "lesson1/lists.ipynb", "file_id": "fid-1", "cell_id": "c1", "consent": True}
    engine = LLMEngine(
        lambda: None,  # type: ignore[arg-type,return-value]
        model="m",
        allow_solutions=False,
        context_tokens=3000,
        concurrency=1,
        deadline=0,
        max_chars=0,
        record_tokens=None,  # type: ignore[arg-type]
    )
    assert engine.messages(rebuilt) == engine.messages(job)
    question = Job(
        "answer", job.ctx, None, 1, question="What is a list?", cell_source="x = 1", turns=job.turns
    )
    again, _ = job_from_payload(
        json.loads(json.dumps(job_payload(question, file_id=None, cell_id=None, consent=False)))
    )
    assert engine.messages(again) == engine.messages(question)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "tool"}, "kind"),
        ({"level": 4}, "level"),
        ({"level": True}, "level"),
        ({"path": "../secret/TUTOR.md"}, "path"),
        ({"path": "/etc/passwd"}, "path"),
        ({"focus": None}, "focus"),
        ({"cells": [{"source": "x" * 300_000}]}, "too long"),
        ({"turns": [["tutor"]]}, "turns"),
        ({"facts": {"values": "x"}}, "facts"),
    ],
)
def test_malformed_context_is_refused(change, message):
    body = {**job_payload(_job(), file_id="f", cell_id=None, consent=True), **change}
    with pytest.raises(PayloadError, match=message):
        job_from_payload(body)


# -- the dashboard ------------------------------------------------------------------------------------


def _row(
    i, learner, kind, ename=None, cell="c1", created=1000.0, path="l1/a.ipynb", level=None, file_id="f-a"
):
    return {
        "id": f"r{i}",
        "learner": learner,
        "file_id": file_id,
        "path": path,
        "lesson": path.rsplit("/", 1)[0],
        "kind": kind,
        "level": level,
        "ename": ename,
        "evalue": '=HYPERLINK("http://x")',
        "signature": None,
        "cell_id": cell,
        "question": None,
        "text": "",
        "engine": None,
        "model": None,
        "status": "done",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "created": created,
        "updated": created,
    }


def test_who_is_stuck_repeated_errors_until_fixed_and_long_runs():
    now = 2000.0
    rows = [  # newest first
        _row(5, "bob", "error", "KeyError", created=1990),
        _row(4, "bob", "error", "KeyError", created=1980),
        _row(3, "alice", "fixed", created=1970),
        _row(2, "alice", "error", "NameError", created=1960),
        _row(1, "alice", "error", "NameError", created=1950),
        _row(0, "carol", "error", "TypeError", created=100),  # outside the window
        _row(9, "carol", "error", "TypeError", created=90),
    ]
    activity = [
        {"learner": "dave", "file_id": "f-d", "path": "l1/d.ipynb", "busy_since": 1700.0, "updated": 1990.0},
        {"learner": "erin", "file_id": "f-e", "path": "l1/e.ipynb", "busy_since": 1990.0, "updated": 1990.0},
    ]
    stuck = dashboard.stuck(rows, activity, now, stuck_errors=2, stuck_window=600, long_run=120)
    assert [(s["learner"], s["reason"], s["ename"]) for s in stuck] == [
        ("dave", "long_run", None),
        ("bob", "repeated", "KeyError"),
    ]


def test_summary_matrix_families_and_levels():
    rows = [
        _row(3, "alice", "hint", "IndexError", level=2, created=30),
        _row(2, "alice", "error", "IndexError", created=20),
        _row(1, "bob", "answer", created=15, path="l2/b.ipynb", file_id="f-b"),
        _row(0, "bob", "error", "IndexError", created=10, path="l2/b.ipynb", file_id="f-b"),
    ]
    data = dashboard.summary(rows, [], 100.0)
    assert data["learners"] == ["alice", "bob"] and data["lessons"] == ["l1", "l2"]
    assert data["matrix"]["alice"]["l1/a.ipynb"] == {
        "errors": 1,
        "hints": 1,
        "questions": 0,
        "max_level": 2,
        "last": 30,
    }
    assert data["matrix"]["bob"]["l2/b.ipynb"]["questions"] == 1
    assert data["notebooks"] == ["l1/a.ipynb", "l2/b.ipynb"]
    assert data["families"] == [{"ename": "IndexError", "count": 2, "learners": 2, "last": 20}]
    assert [r["id"] for r in data["recent"]] == ["r3", "r2", "r1", "r0"]


def test_csv_export_neutralises_formulas():
    text = dashboard.to_csv([_row(0, "=cmd|' /C calc'!A0", "error", "E")])
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[1].startswith("'=") and row[8].startswith("'=")
