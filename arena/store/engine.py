"""Engines for the vote log: any SQLAlchemy URL, with SQLite tuned for many writers.

SQLite settings: WAL so readers never block the writer; synchronous=NORMAL (a commit survives
a crash of the process, and of the machine up to the last checkpoint); busy_timeout so a writer
waits for the lock instead of failing; foreign_keys=ON. The DB-API connection runs in
autocommit mode (`isolation_level=None`) so that SQLAlchemy, not the sqlite3 module, decides
where transactions begin, and every write transaction starts with BEGIN IMMEDIATE: it takes
the write lock up front, so two writers never both read and then deadlock upgrading their
locks, which is where "database is locked" comes from despite a busy timeout. Read-only work
asks for a plain (deferred) BEGIN with `connection.execution_options(sqlite_begin="DEFERRED")`
so a long export never holds the lock.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

# How long a SQLite writer waits for another writer's lock before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def describe_url(url: str | URL) -> str:
    """The URL as text with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its directory is created when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a Postgres restart must not turn the next vote into an error.
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # An in-memory database exists once per connection: share one (single-threaded use).
        **({"poolclass": StaticPool} if in_memory else {}),
    )
    _tune_sqlite(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching a fresh file to WAL briefly needs the lock too.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _switch_to_wal(cursor: Any) -> None:
    """Put the file in WAL mode, waiting out another process doing the same.

    Switching from a rollback journal to WAL needs an exclusive lock, and SQLite may answer
    SQLITE_BUSY at once, without calling the busy handler, when another connection holds a
    lock it is itself upgrading (two processes opening an old file together): so retry, for
    as long as a writer would wait.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay_s = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.5)
