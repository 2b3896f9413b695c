"""BattleLog: the synchronous, thread-safe service API over the vote log.

One engine per BattleLog, reused by every call; one short transaction per call. Writers on
SQLite start with BEGIN IMMEDIATE (see arena.store.engine) and, within one process, also take
a lock first: threads of the same process then queue in Python instead of in SQLite's busy
handler, whose sleeps (up to 100 ms each) would dominate the latency under contention.
Readers use deferred transactions and never block writers (WAL).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from arena.record import BattleRecord, InvalidRecord
from arena.store.checks import check_storable
from arena.store.engine import SQLITE_BUSY_TIMEOUT_MS, describe_url, is_sqlite, make_engine
from arena.store.errors import DuplicateBattle
from arena.store.rows import record_to_rows, rows_to_record
from arena.store.schema import ensure_schema
from arena.store.sqlite_rows import insert_rows
from arena.store.tables import BattleRow, GenerationRow, TurnRow, VoteRow
from arena.store.wal import WalCheckpointer

battle_t = BattleRow.__table__
vote_t = VoteRow.__table__
turn_t = TurnRow.__table__
generation_t = GenerationRow.__table__

# Postgres and SQLite both accept this many bound ids in one `IN (...)`; larger batches are
# split. (SQLite's limit is 32766 variables since 3.32.)
_MAX_IDS_PER_QUERY = 900


class BattleLog:
    """The vote log at `url` (any SQLAlchemy URL; SQLite by default in the CLI).

    Opening creates the tables on first use and raises SchemaTooNew when the database was
    written by a newer arena. Safe to share between threads; for several processes, open one
    BattleLog per process.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        self._sqlite = is_sqlite(self._engine)
        self._write_lock = threading.Lock() if self._sqlite else None
        self._writer: Connection | None = None
        # SQLite file: WAL checkpoints run in a thread of their own, not inside a vote's commit.
        self._checkpointer: WalCheckpointer | None = None
        self._pid = os.getpid()
        try:
            self.schema_version = ensure_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"BattleLog({describe_url(self.url)!r})"

    def __enter__(self) -> BattleLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def record_battle(self, record: BattleRecord) -> None:
        """Store the battle, its turns, generations and vote in one transaction.

        Committed before returning. Raises InvalidRecord (a ValueError) for a malformed
        record and DuplicateBattle when `record.battle_id` is already stored; in both cases
        nothing is written.
        """
        check_storable(record)
        try:
            with self._write() as connection:
                self._insert_many(connection, [record])
        except IntegrityError:
            # The battle's primary key is taken (checked rather than parsed from the driver's
            # message, which differs per database); the transaction was rolled back.
            if self.has_battle(record.battle_id):
                raise DuplicateBattle(record.battle_id) from None
            raise

    def record_battles(self, records: Sequence[BattleRecord]) -> list[Exception | None]:
        """Store each of `records` as `record_battle` would, committing them together.

        Group commit for the battle service: one transaction, one statement per table for the
        whole batch, so a burst of votes pays for one BEGIN/COMMIT instead of one each. Every
        record still succeeds or fails on its own: the result holds, in order, None for a
        record that is committed on return, or the exception `record_battle` would have
        raised for it (InvalidRecord, DuplicateBattle — also for the second of two records
        with the same id in the batch). If the batch cannot be written as a whole (another
        process inserted one of its ids meanwhile, say), it falls back to one transaction per
        record; an error of the database itself (unreachable, disk full) is raised.
        """
        outcomes: list[Exception | None] = [None] * len(records)
        for position, record in enumerate(records):
            try:
                check_storable(record)
            except InvalidRecord as invalid:
                outcomes[position] = invalid
        try:
            with self._write() as connection:
                pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
                taken = self._existing_ids(connection, [records[i].battle_id for i in pending])
                fresh: list[int] = []
                for position in pending:
                    battle_id = records[position].battle_id
                    if battle_id in taken:
                        outcomes[position] = DuplicateBattle(battle_id)
                    else:
                        taken.add(battle_id)
                        fresh.append(position)
                self._insert_many(connection, [records[i] for i in fresh])
        except IntegrityError:
            # Rolled back as a whole; let each record find its own fate.
            for position, outcome in enumerate(outcomes):
                if outcome is None:
                    try:
                        self.record_battle(records[position])
                    except (InvalidRecord, DuplicateBattle) as refused:
                        outcomes[position] = refused
        return outcomes

    def record_new_battles(self, records: Iterable[BattleRecord]) -> tuple[int, int]:
        """Store, in one transaction, those of `records` whose battle_id is not yet stored.

        For bulk imports. Returns (inserted, already_present); a record repeated within
        `records` counts as already present the second time. Every record is checked first:
        on an invalid one nothing is written.
        """
        batch = list(records)
        for record in batch:
            check_storable(record)
        present = 0
        with self._write() as connection:
            seen = self._existing_ids(connection, [r.battle_id for r in batch])
            fresh = []
            for record in batch:
                if record.battle_id in seen:
                    present += 1
                    continue
                fresh.append(record)
                seen.add(record.battle_id)
            self._insert_many(connection, fresh)
        return len(fresh), present

    # -- reading ------------------------------------------------------------------------------

    def get_battle(self, battle_id: str) -> BattleRecord | None:
        """The stored battle with this id, or None."""
        with self._read() as connection:
            records = self._load(connection, [battle_id])
        return records[0] if records else None

    def has_battle(self, battle_id: str) -> bool:
        with self._read() as connection:
            return bool(self._existing_ids(connection, [battle_id]))

    def count_battles(
        self,
        *,
        mode: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many stored battles match (all of) the filters."""
        query = _filtered(select(func.count()).select_from(battle_t), mode, status, since)
        with self._read() as connection:
            return int(connection.execute(query).scalar_one())

    def pair_counts(
        self, *, mode: str | None = None, status: str | None = None
    ) -> dict[tuple[str, str], int]:
        """Battles per (model_a, model_b) as shown, counted in SQL (no records are loaded)."""
        query = _filtered(
            select(battle_t.c.model_a, battle_t.c.model_b, func.count()).select_from(battle_t),
            mode, status, None,
        ).group_by(battle_t.c.model_a, battle_t.c.model_b)
        with self._read() as connection:
            return {(a, b): int(n) for a, b, n in connection.execute(query)}

    def ping(self) -> None:
        """Raise if the database cannot be reached (a trivial query, for health checks)."""
        with self._read() as connection:
            connection.execute(select(1)).scalar_one()

    def iter_battles(
        self,
        *,
        since: datetime | None = None,
        mode: str | None = None,
        status: str | None = None,
        batch_size: int = 500,
    ) -> Iterator[BattleRecord]:
        """Every matching battle, ordered by (started_at, battle_id), `batch_size` at a time.

        `since` keeps battles with started_at >= since (timezone-aware). Memory stays at one
        batch; each batch is its own short read transaction (keyset pagination), so a long
        export never holds a lock. Battles written during the iteration appear when they sort
        after the batch being read.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        after: tuple[datetime, str] | None = None
        while True:
            keys_only = select(battle_t.c.battle_id, battle_t.c.started_at)
            query = _filtered(keys_only, mode, status, since)
            if after is not None:
                query = query.where(
                    or_(
                        battle_t.c.started_at > after[0],
                        (battle_t.c.started_at == after[0]) & (battle_t.c.battle_id > after[1]),
                    )
                )
            query = query.order_by(battle_t.c.started_at, battle_t.c.battle_id).limit(batch_size)
            with self._read() as connection:
                keys = connection.execute(query).all()
                if not keys:
                    return
                records = self._load(connection, [key.battle_id for key in keys])
            yield from records
            after = (keys[-1].started_at, keys[-1].battle_id)
            if len(keys) < batch_size:
                return

    def close(self) -> None:
        """Release every pooled connection. The BattleLog must not be used afterwards."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._engine.dispose()

    # -- internals ----------------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child, forget the parent's connections (never close them: they are
        the parent's) and open new ones on demand."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._writer = None
            self._checkpointer = None  # the parent's thread does not exist here
            self._write_lock = threading.Lock() if self._sqlite else None
            self._engine.dispose(close=False)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._after_fork()
        if self._write_lock is None:
            with self._engine.begin() as connection:
                yield connection
            return
        with self._write_lock:
            # SQLite has one writer at a time anyway; keeping its connection saves a pool
            # checkout and reset per vote.
            if self._writer is None or self._writer.closed or self._writer.invalidated:
                self._writer = self._engine.connect()
                self._checkpoint_elsewhere(self._writer)
            with self._writer.begin():
                yield self._writer

    def _checkpoint_elsewhere(self, writer: Connection) -> None:
        """Turn off the writer's automatic WAL checkpoints and start the checkpoint thread
        (for a SQLite file; see arena.store.wal)."""
        database = self._engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return
        driver = writer.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA wal_autocheckpoint=0").fetchall()
        if self._checkpointer is None:
            self._checkpointer = WalCheckpointer(
                database, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._after_fork()
        with self._engine.connect() as plain:
            connection = plain.execution_options(sqlite_begin="DEFERRED")
            with connection.begin():
                yield connection

    @staticmethod
    def _existing_ids(connection: Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _MAX_IDS_PER_QUERY):
            chunk = ids[start : start + _MAX_IDS_PER_QUERY]
            query = select(battle_t.c.battle_id).where(battle_t.c.battle_id.in_(chunk))
            found.update(connection.execute(query).scalars())
        return found

    @staticmethod
    def _insert_many(connection: Connection, records: Sequence[BattleRecord]) -> None:
        """Insert the rows of `records` with one (executemany) statement per table."""
        battles: list[dict] = []
        votes: list[dict] = []
        turns: list[dict] = []
        generations: list[dict] = []
        for record in records:
            rows = record_to_rows(record)
            battles.append(rows.battle)
            if rows.vote is not None:
                votes.append(rows.vote)
            turns.extend(rows.turns)
            generations.extend(rows.generations)
        # Parents first: the foreign keys are checked per statement.
        for table, rows_of_table in ((battle_t, battles), (vote_t, votes), (turn_t, turns),
                                     (generation_t, generations)):
            if not rows_of_table:
                continue
            if connection.dialect.name == "sqlite":
                insert_rows(connection, table, rows_of_table)  # same bytes, less CPU
            else:
                connection.execute(table.insert(), rows_of_table)

    @staticmethod
    def _load(connection: Connection, ids: list[str]) -> list[BattleRecord]:
        """The battles with these ids, in the order of `ids`, read with three queries."""
        if not ids:
            return []
        battles = {
            row["battle_id"]: row
            for row in connection.execute(
                select(battle_t).where(battle_t.c.battle_id.in_(ids))
            ).mappings()
        }
        votes = {
            row["battle_id"]: row
            for row in connection.execute(
                select(vote_t).where(vote_t.c.battle_id.in_(ids))
            ).mappings()
        }
        turns: dict[str, list] = {}
        for row in connection.execute(select(turn_t).where(turn_t.c.battle_id.in_(ids))).mappings():
            turns.setdefault(row["battle_id"], []).append(row)
        generations: dict[str, list] = {}
        query = select(generation_t).where(generation_t.c.battle_id.in_(ids))
        for row in connection.execute(query).mappings():
            generations.setdefault(row["battle_id"], []).append(row)
        return [
            rows_to_record(
                battles[battle_id],
                votes.get(battle_id),
                turns.get(battle_id, []),
                generations.get(battle_id, []),
            )
            for battle_id in ids
            if battle_id in battles
        ]


def _filtered(
    query: Select, mode: str | None, status: str | None, since: datetime | None
) -> Select:
    if mode is not None:
        query = query.where(battle_t.c.mode == mode)
    if status is not None:
        query = query.where(battle_t.c.status == status)
    if since is not None:
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware (UTC)")
        query = query.where(battle_t.c.started_at >= since)
    return query
