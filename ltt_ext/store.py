"""Conversation and hint store: SQLite in WAL mode.

One connection per store, guarded by a lock, so the tutor worker, request
handlers and helper threads can all use it; WAL plus a busy timeout lets
several processes (or servers) share one database file. Rows survive a server
restart: the store is the source of truth for history, the live push is only
a convenience on top.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    cell_id TEXT,
    kernel_id TEXT,
    level INTEGER,
    engine TEXT,
    model TEXT,
    status TEXT NOT NULL DEFAULT 'done',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    user TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS messages_path_updated ON messages (path, updated);
CREATE INDEX IF NOT EXISTS messages_path_created ON messages (path, created);
"""


def new_id() -> str:
    return f"m-{uuid.uuid4()}"


@dataclass
class Message:
    """One chat message, exactly the model of docs/api.md (plus private fields)."""

    path: str
    role: str  # learner | tutor | system
    kind: str  # question | more | hint | answer | notice
    text: str = ""
    cell_id: str | None = None
    kernel_id: str | None = None
    level: int | None = None
    engine: str | None = None
    model: str | None = None
    status: str = "done"  # streaming | done | stopped | error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    id: str = field(default_factory=new_id)
    # private: never sent to a browser
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    PRIVATE = ("user", "extra")

    def __post_init__(self):
        if not self.updated:
            self.updated = self.created

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in self.PRIVATE:
            d.pop(k, None)
        return d


_COLUMNS = [f.name for f in fields(Message)]


class Store:
    """SQLite-backed message store. ``path`` may be ``":memory:"``."""

    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, timeout=10.0, isolation_level=None
        )
        with self._lock:
            c = self._conn
            c.execute("PRAGMA busy_timeout = 10000")
            if path != ":memory:":
                c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
            c.executescript(SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    # -- writes -------------------------------------------------------------
    def add(self, msg: Message) -> Message:
        row = self._row(msg)
        with self._lock:
            self.conn.execute(
                f"INSERT INTO messages ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})",
                [row[c] for c in _COLUMNS],
            )
        return msg

    def update(self, msg: Message) -> Message:
        msg.updated = max(time.time(), msg.updated)
        row = self._row(msg)
        cols = [c for c in _COLUMNS if c != "id"]
        with self._lock:
            self.conn.execute(
                f"UPDATE messages SET {','.join(c + '=?' for c in cols)} WHERE id=?",
                [row[c] for c in cols] + [msg.id],
            )
        return msg

    def mark_interrupted(self, status: str = "stopped") -> int:
        """Close messages left ``streaming`` by a server that died mid-answer."""
        with self._lock:
            cur = self.conn.execute(
                "UPDATE messages SET status=?, updated=? WHERE status='streaming'", (status, time.time())
            )
            return cur.rowcount

    # -- reads --------------------------------------------------------------
    def get(self, msg_id: str) -> Message | None:
        rows = self._select("WHERE id=?", (msg_id,))
        return rows[0] if rows else None

    def history(self, path: str, since: float | None = None, limit: int = 1000) -> list[Message]:
        """Messages of a notebook, oldest first: the newest ``limit`` of them, or with ``since``, those
        updated after it (exclusive), oldest first so a client paging with ``since`` misses nothing."""
        if since is None:
            rows = self._select("WHERE path=? ORDER BY created DESC, rowid DESC LIMIT ?", (path, limit))
            return rows[::-1]
        return self._select(
            "WHERE path=? AND updated>? ORDER BY updated, rowid LIMIT ?", (path, since, limit)
        )

    def latest(self, path: str, kind: str | None = None, cell_id: str | None = None) -> Message | None:
        q, args = "WHERE path=?", [path]
        if kind:
            q, args = q + " AND kind=?", args + [kind]
        if cell_id:
            q, args = q + " AND cell_id=?", args + [cell_id]
        rows = self._select(q + " ORDER BY created DESC, rowid DESC LIMIT 1", args)
        return rows[0] if rows else None

    def _select(self, where: str, args) -> list[Message]:
        with self._lock:
            cur = self.conn.execute(f"SELECT {','.join(_COLUMNS)} FROM messages {where}", list(args))
            rows = cur.fetchall()
        return [self._message(r) for r in rows]

    @staticmethod
    def _row(msg: Message) -> dict[str, Any]:
        d = asdict(msg)
        d["extra"] = json.dumps(d["extra"] or {})
        return d

    @staticmethod
    def _message(row) -> Message:
        d = dict(zip(_COLUMNS, row))
        d["extra"] = json.loads(d["extra"] or "{}")
        return Message(**d)
