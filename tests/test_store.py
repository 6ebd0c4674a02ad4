"""The SQLite store: round trips, `since`, concurrency, and surviving a reopen."""

import threading

from ltt_ext.store import Message, Store


def test_roundtrip_and_private_fields(tmp_path):
    s = Store(str(tmp_path / "t.db"))
    m = s.add(Message("a.ipynb", "tutor", "hint", text="hi", level=2, engine="builtin", user="u", extra={"k": 1}))
    got = s.get(m.id)
    assert got == m
    assert "user" not in got.to_json() and "extra" not in got.to_json()
    assert set(got.to_json()) == {"id", "path", "role", "kind", "text", "cell_id", "kernel_id", "level", "engine",
                                  "model", "status", "prompt_tokens", "completion_tokens", "created", "updated"}
    s.close()


def test_history_order_since_and_update(tmp_path):
    s = Store(str(tmp_path / "t.db"))
    a = s.add(Message("a.ipynb", "learner", "question", text="1", created=100.0))
    b = s.add(Message("a.ipynb", "tutor", "answer", text="", status="streaming", created=101.0))
    s.add(Message("b.ipynb", "learner", "question", text="other", created=102.0))
    assert [m.id for m in s.history("a.ipynb")] == [a.id, b.id]
    b.text, b.status = "done text", "done"
    s.update(b)
    newer = s.history("a.ipynb", since=a.updated)
    assert [m.id for m in newer] == [b.id] and newer[0].text == "done text"
    assert s.latest("a.ipynb", kind="answer").id == b.id
    s.close()


def test_survives_reopen_and_marks_interrupted(tmp_path):
    path = str(tmp_path / "sub" / "t.db")
    s = Store(path)
    m = s.add(Message("a.ipynb", "tutor", "hint", text="partial", status="streaming"))
    s.close()
    s2 = Store(path)
    assert s2.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s2.mark_interrupted() == 1
    assert s2.get(m.id).status == "stopped" and s2.get(m.id).text == "partial"
    s2.close()


def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "t.db")
    stores = [Store(path), Store(path)]  # two connections: like two servers on one file

    def write(store, n):
        for i in range(50):
            store.add(Message(f"k{n}.ipynb", "learner", "question", text=str(i)))

    threads = [threading.Thread(target=write, args=(stores[i % 2], i)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(stores[0].history(f"k{i}.ipynb")) for i in range(6)) == 300
    for s in stores:
        s.close()
