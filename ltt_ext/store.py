"""Conversation, hint and usage store: SQLite in WAL mode, off the event loop.

One connection per store, owned by a dedicated thread (a single-worker
executor): every call is awaited, so a slow disk or another process holding
the write lock never stalls the server. WAL plus a busy timeout lets several
processes (or servers) share one database file; when the lock is not released
in time, or the file cannot be opened, calls raise :class:`StoreUnavailable`
(handlers answer 503). Rows survive a server restart: the store is the source
of truth for history and budgets; the live push is only a convenience on top.

Conversations are keyed by the notebook's ``file_id`` (jupyter_server_fileid's
id, so they follow renames and moves; the path when there is no file-id
service); ``path`` is kept as a display field.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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
    extra TEXT,
    file_id TEXT
);
CREATE TABLE IF NOT EXISTS usage (
    learner TEXT NOT NULL,
    at REAL NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_learner_at ON usage (learner, at);
"""

# after the migration below (an old database has no file_id column to index yet)
INDEXES = """
CREATE INDEX IF NOT EXISTS messages_file_updated ON messages (file_id, updated);
CREATE INDEX IF NOT EXISTS messages_file_created ON messages (file_id, created);
CREATE INDEX IF NOT EXISTS messages_path ON messages (path) WHERE file_id IS NULL;
"""

USAGE_WINDOW = 3600.0  # the longest budget window: older usage rows are pruned


class StoreUnavailable(Exception):
    """The database is locked, closed or cannot be opened; safe to show (-> 503)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value):
    """Text SQLite can encode: a lone surrogate (valid JSON from a model or a browser) becomes U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    return value


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
    file_id: str | None = None

    PRIVATE = ("user", "extra", "file_id")

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
    """SQLite-backed message store; every method is a coroutine run on the store's own thread.

    ``path`` may be ``":memory:"``; ``timeout`` is how long a write waits for another
    connection's lock before :class:`StoreUnavailable`.
    """

    def __init__(self, path: str, timeout: float = 5.0):
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ltt-store")

    @property
    def closed(self) -> bool:
        return self._closed

    async def _call(self, fn, *args):
        if self._closed:
            raise StoreUnavailable("The tutor's history store is closed.")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise  # our bugs, not the database's state
        except (sqlite3.DatabaseError, OSError) as e:
            # "database is locked", "unable to open database file", "file is not a database", a disk error...
            raise StoreUnavailable(
                f"The tutor's history store is unavailable ({e}); try again shortly."
            ) from e
        except RuntimeError as e:  # the executor was shut down under us
            raise StoreUnavailable("The tutor's history store is closed.") from e

    # -- on the store thread ------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    self._setup(conn)
                    break
                except sqlite3.OperationalError as e:
                    # switching to WAL does not wait on the busy handler: two servers opening at once
                    if "locked" not in str(e) or time.monotonic() > deadline:
                        conn.close()
                        raise
                    time.sleep(0.05)
                except BaseException:
                    conn.close()
                    raise
            self._conn = conn
        return self._conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if self.path != ":memory:" and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        cols = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
        if "file_id" not in cols:  # a database from before conversations followed file ids
            conn.execute("ALTER TABLE messages ADD COLUMN file_id TEXT")
        conn.executescript(INDEXES)

    def _exec(self, sql: str, args=()) -> sqlite3.Cursor:
        return self._db().execute(sql, list(args))

    def _rows(self, sql: str, args=()) -> list[tuple]:
        return self._exec(sql, args).fetchall()

    def _count(self, sql: str, args=()) -> int:
        return self._exec(sql, args).rowcount

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open (and migrate) the database now rather than on first use."""
        await self._call(self._db)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=False)

    # -- writes -------------------------------------------------------------------------------------
    async def add(self, msg: Message) -> Message:
        row = self._row(msg)
        await self._call(
            self._count,
            f"INSERT INTO messages ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})",
            [row[c] for c in _COLUMNS],
        )
        return msg

    async def update(self, msg: Message) -> Message:
        msg.updated = max(time.time(), msg.updated)
        row = self._row(msg)
        cols = [c for c in _COLUMNS if c != "id"]
        await self._call(
            self._count,
            f"UPDATE messages SET {','.join(c + '=?' for c in cols)} WHERE id=?",
            [row[c] for c in cols] + [msg.id],
        )
        return msg

    async def mark_interrupted(self, status: str = "stopped") -> int:
        """Close messages left ``streaming`` by a server that died mid-answer."""
        return await self._call(
            self._count,
            "UPDATE messages SET status=?, updated=? WHERE status='streaming'",
            (status, time.time()),
        )

    async def adopt(self, path: str, file_id: str) -> int:
        """Give rows stored before file ids (keyed by path only) the notebook's file id."""

        def adopt() -> int:
            # read first: an UPDATE would take the write lock even when nothing needs migrating
            if self._exec(
                "SELECT 1 FROM messages WHERE path=? AND file_id IS NULL LIMIT 1", (path,)
            ).fetchone():
                return self._exec(
                    "UPDATE messages SET file_id=? WHERE path=? AND file_id IS NULL", (file_id, path)
                ).rowcount
            return 0

        return await self._call(adopt)

    async def record_usage(
        self, learner: str, requests: int = 0, tokens: int = 0, at: float | None = None
    ) -> None:
        """One LLM request and/or tokens spent by ``learner`` (budgets are computed from these rows)."""
        at = time.time() if at is None else at

        def record() -> None:
            self._exec(
                "INSERT INTO usage (learner, at, requests, tokens) VALUES (?,?,?,?)",
                (learner, at, requests, tokens),
            )
            self._exec("DELETE FROM usage WHERE at < ?", (at - USAGE_WINDOW,))

        await self._call(record)

    # -- reads --------------------------------------------------------------------------------------
    async def usage_since(self, learner: str, since: float) -> list[tuple[float, int, int]]:
        """``(at, requests, tokens)`` rows of ``learner`` after ``since``, oldest first."""
        rows = await self._call(
            self._rows,
            "SELECT at, requests, tokens FROM usage WHERE learner=? AND at>? ORDER BY at",
            (learner, since),
        )
        return [tuple(r) for r in rows]

    async def get(self, msg_id: str) -> Message | None:
        rows = await self._select("WHERE id=?", (msg_id,))
        return rows[0] if rows else None

    async def history(self, file_id: str, since: float | None = None, limit: int = 1000) -> list[Message]:
        """Messages of a notebook, oldest first: the newest ``limit`` of them, or with ``since``, those
        updated after it (exclusive), oldest first so a client paging with ``since`` misses nothing."""
        if since is None:
            rows = await self._select(
                "WHERE file_id=? ORDER BY created DESC, rowid DESC LIMIT ?", (file_id, limit)
            )
            return rows[::-1]
        return await self._select(
            "WHERE file_id=? AND updated>? ORDER BY updated, rowid LIMIT ?", (file_id, since, limit)
        )

    async def latest(
        self, file_id: str, kind: str | None = None, cell_id: str | None = None
    ) -> Message | None:
        q, args = "WHERE file_id=?", [file_id]
        if kind:
            q, args = q + " AND kind=?", args + [kind]
        if cell_id:
            q, args = q + " AND cell_id=?", args + [cell_id]
        rows = await self._select(q + " ORDER BY created DESC, rowid DESC LIMIT 1", args)
        return rows[0] if rows else None

    async def _select(self, where: str, args) -> list[Message]:
        rows = await self._call(self._rows, f"SELECT {','.join(_COLUMNS)} FROM messages {where}", args)
        return [self._message(r) for r in rows]

    @staticmethod
    def _row(msg: Message) -> dict[str, Any]:
        d = {k: _clean(v) for k, v in asdict(msg).items()}
        d["extra"] = json.dumps(d["extra"] or {})  # ASCII: escapes even lone surrogates
        if d["file_id"] is None:
            d["file_id"] = d["path"]  # no file-id service: the path is the key
        return d

    @staticmethod
    def _message(row) -> Message:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["extra"] = json.loads(d["extra"] or "{}")
        return Message(**d)
