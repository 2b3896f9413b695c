"""The connections of one vote log: one writer at a time, readers that never block it.

Writers on SQLite start with BEGIN IMMEDIATE (see arena.store.engine) and, within one process,
also take a lock first: threads of the same process then queue in Python instead of in
SQLite's busy handler, whose sleeps (up to 100 ms each) would dominate the latency under
contention. The writer keeps one connection, with automatic WAL checkpoints off: for a SQLite
file a `WalCheckpointer` thread runs them instead, so no vote's commit copies the log (see
arena.store.wal). Readers use deferred transactions and never block the writer (WAL).

In a forked child the parent's connections are forgotten, never closed, and new ones opened on
demand.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from arena.store.engine import SQLITE_BUSY_TIMEOUT_MS, is_sqlite
from arena.store.wal import WalCheckpointer


class LogConnections:
    """Transactions on `engine`: `write()` for one writer at a time, `read()` for readers.

    Safe to share between threads; `close()` releases every connection and stops the
    checkpoint thread.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(engine)
        self._write_lock = threading.Lock() if self._sqlite else None
        self._writer: Connection | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._pid = os.getpid()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back if it raises)."""
        self._after_fork()
        if self._write_lock is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._write_lock:
            # SQLite has one writer at a time anyway; keeping its connection saves a pool
            # checkout and reset per vote.
            if self._writer is None or self._writer.closed or self._writer.invalidated:
                self._writer = self.engine.connect()
                self._checkpoint_elsewhere(self._writer)
            with self._writer.begin():
                yield self._writer

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A deferred read transaction: it never takes SQLite's write lock."""
        self._after_fork()
        with self.engine.connect() as plain:
            connection = plain.execution_options(sqlite_begin="DEFERRED")
            with connection.begin():
                yield connection

    def close(self) -> None:
        """Stop the checkpoint thread and release every pooled connection."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()

    def _after_fork(self) -> None:
        """In a forked child, forget the parent's connections (never close them: they are
        the parent's) and open new ones on demand."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._writer = None
            self._checkpointer = None  # the parent's thread does not exist here
            self._write_lock = threading.Lock() if self._sqlite else None
            self.engine.dispose(close=False)

    def _checkpoint_elsewhere(self, writer: Connection) -> None:
        """Turn off the writer's automatic WAL checkpoints and start the checkpoint thread
        (for a SQLite file; see arena.store.wal)."""
        database = self.engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return
        driver = writer.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA wal_autocheckpoint=0").fetchall()
        if self._checkpointer is None:
            self._checkpointer = WalCheckpointer(
                database, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
