"""The tutor service's store, through SQLAlchemy 2 (Core): SQLite by default, PostgreSQL for a large course.

Every learner's data is keyed by the hub user name and the notebook's file id (the learner server's
jupyter_server_fileid id, so a renamed notebook keeps its record; the path is kept for display):

- ``ltt_records``: every hint, answer and reported error, with its level, error family (``ename``),
  the learner's question and the tutor's reply; the instructor dashboard reads these;
- ``ltt_usage``: the requests and tokens each learner spent (budgets are computed from these rows,
  so they survive a restart of the service);
- ``ltt_activity``: per learner and notebook, since when a cell has been running (long runs).

**Migrations.** A one-row table ``ltt_schema_version`` holds the schema's version; :data:`MIGRATIONS`
lists the upgrade steps, each run once, in order, in its own transaction, when the service starts.
Alembic (which JupyterHub uses) would be one more tool to ship and run for three tables and additive
steps; a version table keeps upgrades automatic and testable. A database newer than this code is
refused rather than guessed at.

The engine is synchronous and used from one dedicated thread: every method is a coroutine that runs
its statements there, so a slow database never stalls the service's event loop (no async driver such
as aiosqlite/asyncpg is needed).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine

USAGE_KEEP = 2 * 3600.0  # the longest budget window is an hour: older usage rows are pruned

metadata = MetaData()

schema_version = Table("ltt_schema_version", metadata, Column("version", Integer, nullable=False))

records = Table(
    "ltt_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("learner", String(255), nullable=False),  # the hub user name
    Column("file_id", String(255), nullable=False),
    Column("path", Text, nullable=False, default=""),
    Column("lesson", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),  # error | hint | answer
    Column("level", Integer),
    Column("ename", String(255)),
    Column("evalue", Text),
    Column("signature", String(64)),
    Column("cell_id", String(255)),
    Column("question", Text),
    Column("text", Text, nullable=False, default=""),
    Column("engine", String(32)),
    Column("model", String(255)),
    Column("status", String(16), nullable=False, default="done"),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Index("ltt_records_created", "created"),
    Index("ltt_records_learner_file", "learner", "file_id", "created"),
)

usage = Table(
    "ltt_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Column("requests", Integer, nullable=False, default=0),
    Column("tokens", Integer, nullable=False, default=0),
    Index("ltt_usage_learner_at", "learner", "at"),
)

activity = Table(
    "ltt_activity",
    metadata,
    Column("learner", String(255), primary_key=True),
    Column("file_id", String(255), primary_key=True),
    Column("path", Text, nullable=False, default=""),
    Column("busy_since", Float),  # a cell has been running since (None: idle)
    Column("updated", Float, nullable=False),
)


def _v1(conn: Connection) -> None:
    """Records and usage (the first schema)."""
    metadata.create_all(conn, tables=[records, usage])


def _v2(conn: Connection) -> None:
    """Long runs: what each learner's notebook is doing now."""
    metadata.create_all(conn, tables=[activity])


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)

RECORD_FIELDS = [c.name for c in records.columns]


class SchemaTooNew(RuntimeError):
    pass


def new_id() -> str:
    return f"r-{uuid.uuid4()}"


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 10, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite") and ":memory:" not in url and url != "sqlite://":

        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn, _record):  # readers never wait for the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def upgrade(engine: Engine, upto: int | None = None) -> tuple[int, int]:
    """Bring the schema to ``upto`` (default: the newest); returns (version before, version after)."""
    target = SCHEMA_VERSION if upto is None else upto
    with engine.begin() as conn:
        metadata.create_all(conn, tables=[schema_version])
        row = conn.execute(select(schema_version.c.version)).first()
        if row is None:
            conn.execute(insert(schema_version).values(version=0))
            before = 0
        else:
            before = row[0]
    if before > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database's schema is version {before}, newer than this ltt-ext ({SCHEMA_VERSION}); "
            "upgrade ltt-ext"
        )
    version = before
    while version < target:
        with engine.begin() as conn:  # one transaction per step
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(update(schema_version).values(version=version))
    return before, version


class HubStore:
    """The service's records, usage and activity; every method runs on the store's own thread."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ltt-hub-store")
        self.closed = False

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> tuple[int, int]:
        return await self._call(upgrade, self.engine)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self._call(self.engine.dispose)
        self._executor.shutdown(wait=False)

    def tables(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    # -- budgets (the interface ltt_ext.tutor.budget.Spending uses) ---------------------------------
    async def usage_since(self, learner: str, since: float) -> list[tuple[float, int, int]]:
        def run():
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(usage.c.at, usage.c.requests, usage.c.tokens)
                    .where(usage.c.learner == learner, usage.c.at > since)
                    .order_by(usage.c.at)
                )
                return [(float(a), int(r), int(t)) for a, r, t in rows]

        return await self._call(run)

    async def record_usage(
        self, learner: str, requests: int = 0, tokens: int = 0, at: float | None = None
    ) -> None:
        at = time.time() if at is None else at

        def run():
            with self.engine.begin() as conn:
                conn.execute(insert(usage).values(learner=learner, at=at, requests=requests, tokens=tokens))
                conn.execute(delete(usage).where(usage.c.at < at - USAGE_KEEP))

        await self._call(run)

    # -- records ------------------------------------------------------------------------------------
    async def add_record(self, **fields: Any) -> dict[str, Any]:
        now = time.time()
        row = {"id": new_id(), "created": now, "updated": now, "text": "", "status": "done"}
        row.update(fields)
        row.setdefault("prompt_tokens", 0)
        row.setdefault("completion_tokens", 0)

        def run():
            with self.engine.begin() as conn:
                conn.execute(insert(records).values(**row))

        await self._call(run)
        return {f: row.get(f) for f in RECORD_FIELDS}

    async def update_record(self, record_id: str, **fields: Any) -> None:
        fields["updated"] = time.time()

        def run():
            with self.engine.begin() as conn:
                conn.execute(update(records).where(records.c.id == record_id).values(**fields))

        await self._call(run)

    async def mark_interrupted(self) -> int:
        def run():
            with self.engine.begin() as conn:
                return conn.execute(
                    update(records)
                    .where(records.c.status == "streaming")
                    .values(status="stopped", updated=time.time())
                ).rowcount

        return await self._call(run)

    async def max_level(self, learner: str, file_id: str, signature: str) -> int | None:
        """The highest hint level this learner was given for this error in this notebook."""

        def run():
            with self.engine.connect() as conn:
                return conn.execute(
                    select(func.max(records.c.level)).where(
                        records.c.learner == learner,
                        records.c.file_id == file_id,
                        records.c.signature == signature,
                        records.c.kind == "hint",
                    )
                ).scalar()

        return await self._call(run)

    async def records(
        self,
        *,
        learner: str | None = None,
        notebook: str | None = None,
        lesson: str | None = None,
        ename: str | None = None,
        kinds: tuple[str, ...] | None = None,
        since: float | None = None,
        limit: int = 5000,
    ) -> list[dict[str, Any]]:
        """Records, newest first, filtered (``notebook`` matches a path or a file id)."""

        def run():
            q = select(records)
            if learner:
                q = q.where(records.c.learner == learner)
            if notebook:
                q = q.where((records.c.path == notebook) | (records.c.file_id == notebook))
            if lesson is not None and lesson != "":
                q = q.where(records.c.lesson == lesson)
            if ename:
                q = q.where(records.c.ename == ename)
            if kinds:
                q = q.where(records.c.kind.in_(kinds))
            if since is not None:
                q = q.where(records.c.created >= since)
            q = q.order_by(records.c.created.desc(), records.c.id).limit(limit)
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(q)]

        return await self._call(run)

    # -- activity -----------------------------------------------------------------------------------
    async def set_activity(self, learner: str, file_id: str, path: str, busy_since: float | None) -> None:
        now = time.time()

        def run():
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(activity)
                    .where(activity.c.learner == learner, activity.c.file_id == file_id)
                    .values(path=path, busy_since=busy_since, updated=now)
                ).rowcount
                if not done:
                    conn.execute(
                        insert(activity).values(
                            learner=learner, file_id=file_id, path=path, busy_since=busy_since, updated=now
                        )
                    )

        await self._call(run)

    async def activity(self, learner: str | None = None) -> list[dict[str, Any]]:
        def run():
            q = select(activity)
            if learner:
                q = q.where(activity.c.learner == learner)
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(q)]

        return await self._call(run)
