"""The SQLite store: round trips, `since`, concurrency, surviving a reopen, migration, and a locked file."""

import asyncio
import sqlite3

import pytest

from ltt_ext.store import Message, Store, StoreUnavailable


async def test_roundtrip_and_private_fields(tmp_path):
    s = Store(str(tmp_path / "t.db"))
    m = await s.add(
        Message(
            "a.ipynb",
            "tutor",
            "hint",
            text="hi",
            level=2,
            engine="builtin",
            user="u",
            extra={"k": 1},
            file_id="f1",
        )
    )
    got = await s.get(m.id)
    assert got == m
    assert "user" not in got.to_json() and "extra" not in got.to_json() and "file_id" not in got.to_json()
    assert set(got.to_json()) == {
        "id",
        "path",
        "role",
        "kind",
        "text",
        "cell_id",
        "kernel_id",
        "level",
        "engine",
        "model",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "created",
        "updated",
    }
    await s.close()


async def test_history_order_since_and_update(tmp_path):
    s = Store(str(tmp_path / "t.db"))
    a = await s.add(Message("a.ipynb", "learner", "question", text="1", created=100.0, file_id="fa"))
    b = await s.add(
        Message("a.ipynb", "tutor", "answer", text="", status="streaming", created=101.0, file_id="fa")
    )
    await s.add(Message("b.ipynb", "learner", "question", text="other", created=102.0, file_id="fb"))
    assert [m.id for m in await s.history("fa")] == [a.id, b.id]
    b.text, b.status = "done text", "done"
    await s.update(b)
    newer = await s.history("fa", since=a.updated)
    assert [m.id for m in newer] == [b.id] and newer[0].text == "done text"
    assert (await s.latest("fa", kind="answer")).id == b.id
    await s.close()


async def test_survives_reopen_and_marks_interrupted(tmp_path):
    path = str(tmp_path / "sub" / "t.db")
    s = Store(path)
    m = await s.add(Message("a.ipynb", "tutor", "hint", text="partial", status="streaming", file_id="f"))
    await s.close()
    s2 = Store(path)
    assert await s2.mark_interrupted() == 1
    assert (await s2.get(m.id)).status == "stopped" and (await s2.get(m.id)).text == "partial"
    await s2.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "t.db")
    stores = [Store(path), Store(path)]  # two connections: like two servers on one file

    async def write(store, n):
        for i in range(50):
            await store.add(Message(f"k{n}.ipynb", "learner", "question", text=str(i), file_id=f"k{n}"))

    await asyncio.gather(*(write(stores[i % 2], i) for i in range(6)))
    assert sum([len(await stores[0].history(f"k{i}")) for i in range(6)]) == 300
    for s in stores:
        await s.close()


async def test_rows_from_before_file_ids_are_migrated_and_adopted(tmp_path):
    """A database written by ltt-ext 0.1 (no file_id column) opens, and its rows join the file's conversation."""
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE messages (id TEXT PRIMARY KEY, path TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL,
              text TEXT NOT NULL DEFAULT '', cell_id TEXT, kernel_id TEXT, level INTEGER, engine TEXT, model TEXT,
              status TEXT NOT NULL DEFAULT 'done', prompt_tokens INTEGER NOT NULL DEFAULT 0,
              completion_tokens INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL,
              user TEXT, extra TEXT);
            INSERT INTO messages (id, path, role, kind, text, created, updated, extra)
              VALUES ('m-old', 'Untitled.ipynb', 'learner', 'question', 'from 0.1', 1, 1, '{}');
        """)
    s = Store(path)
    assert await s.history("file-1") == []
    assert await s.adopt("Untitled.ipynb", "file-1") == 1
    assert [m.text for m in await s.history("file-1")] == ["from 0.1"]
    assert await s.adopt("Untitled.ipynb", "file-1") == 0
    await s.close()


async def test_usage_rows_survive_a_reopen(tmp_path):
    path = str(tmp_path / "t.db")
    s = Store(path)
    await s.record_usage("server", requests=1, at=1000.0)
    await s.record_usage("server", tokens=120, at=1001.0)
    await s.record_usage("other", tokens=5, at=1001.0)
    await s.close()
    s = Store(path)
    assert await s.usage_since("server", 0) == [(1000.0, 1, 0), (1001.0, 0, 120)]
    await s.close()


async def test_a_locked_database_raises_store_unavailable_without_blocking(tmp_path):
    path = str(tmp_path / "t.db")
    s = Store(path, timeout=0.2)
    await s.open()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(tick())
    with pytest.raises(StoreUnavailable) as e:
        await s.add(Message("a.ipynb", "learner", "question", text="q", file_id="f"))
    ticker.cancel()
    assert "locked" in str(e.value) and ticks > 1  # the event loop kept running while the store waited
    assert await s.history("f") == []  # WAL: reads go on under a writer's lock
    holder.execute("ROLLBACK")
    holder.close()
    await s.add(Message("a.ipynb", "learner", "question", text="q", file_id="f"))
    await s.close()
    with pytest.raises(StoreUnavailable):
        await s.get("m-x")


@pytest.mark.parametrize(
    "name,content",
    [
        ("a-file/t.db", None),  # its folder is a file
        ("junk.db", b"not a database, but a text file" * 100),
    ],
)
async def test_an_unusable_database_is_store_unavailable(tmp_path, name, content):
    (tmp_path / "a-file").write_text("")
    if content is not None:
        (tmp_path / name).write_bytes(content)
    s = Store(str(tmp_path / name))
    with pytest.raises(StoreUnavailable):
        await s.history("f")
    await s.close()
