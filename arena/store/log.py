"""BattleLog: the synchronous, thread-safe service API over the vote log.

One engine per BattleLog, reused by every call; one short transaction per call, on the
connections of arena.store.connections (one writer at a time, readers that never block it),
running the statements of arena.store.queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from arena.record import BattleRecord, InvalidRecord
from arena.store.checks import check_storable
from arena.store.connections import LogConnections
from arena.store.engine import describe_url, make_engine
from arena.store.errors import DuplicateBattle
from arena.store.queries import (
    count_query,
    existing_ids,
    insert_records,
    keys_page_query,
    load_records,
    pair_count_query,
    set_reason,
    vote_facts_query,
)
from arena.store.schema import ensure_schema


@dataclass(frozen=True)
class VoteFacts:
    """What `BattleLog.vote_facts` reads of one stored battle."""

    rater_hash: str
    status: str
    mode: str
    publish_consent: bool | None
    winner: str | None  # None: no vote
    has_reason: bool


class RecordRefused(InvalidRecord):
    """The database refused this one record (e.g. PostgreSQL refuses a NUL character in text;
    SQLite cannot encode a lone surrogate); nothing of it was written. The message says which
    battle and the database's reason."""


def database_unavailable(failure: BaseException) -> bool:
    """True when `failure` says the database itself cannot take writes now (unreachable, lost
    connection, locked, disk full, a table missing, no privilege) rather than that it refuses
    one record: every driver error but an integrity or data error (a constraint, a NUL in
    text), and any error that invalidated the connection."""
    if getattr(failure, "connection_invalidated", False):
        return True
    return isinstance(failure, DBAPIError) and not isinstance(failure, IntegrityError | DataError)


def refusal(record: BattleRecord, failure: Exception) -> Exception:
    """What the caller of one record the database refused gets: RecordRefused naming the
    battle and the database's reason (first line), or `failure` itself when it is already
    one of the log's own refusals or says the database is unavailable."""
    if isinstance(failure, InvalidRecord | DuplicateBattle) or database_unavailable(failure):
        return failure
    cause = failure.orig if isinstance(failure, DBAPIError) and failure.orig else failure
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return RecordRefused(f"the database refused battle {record.battle_id!r}: {reason}")


class BattleLog:
    """The vote log at `url` (any SQLAlchemy URL; SQLite by default in the CLI).

    Opening creates the tables on first use and raises SchemaTooNew when the database was
    written by a newer arena. Safe to share between threads; for several processes, open one
    BattleLog per process.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        engine = make_engine(url)
        self.connections = LogConnections(engine)
        try:
            self.schema_version = ensure_schema(engine)
        except BaseException:
            engine.dispose()
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
            with self.connections.write() as connection:
                insert_records(connection, [record])
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
        process inserted one of its ids meanwhile, or the database refuses one record: a NUL
        in text on PostgreSQL), it falls back to one transaction per record, so only the
        records the database refuses fail (RecordRefused) and the rest are committed. An error
        of the database itself (unreachable, locked, disk full) is raised for the batch.
        """
        outcomes: list[Exception | None] = [None] * len(records)
        for position, record in enumerate(records):
            try:
                check_storable(record)
            except InvalidRecord as invalid:
                outcomes[position] = invalid
        try:
            with self.connections.write() as connection:
                pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
                taken = existing_ids(connection, [records[i].battle_id for i in pending])
                fresh: list[int] = []
                for position in pending:
                    battle_id = records[position].battle_id
                    if battle_id in taken:
                        outcomes[position] = DuplicateBattle(battle_id)
                    else:
                        taken.add(battle_id)
                        fresh.append(position)
                insert_records(connection, [records[i] for i in fresh])
        except Exception as failure:
            if database_unavailable(failure):
                raise
            # Rolled back as a whole; let each record find its own fate.
            self._record_each_alone(records, outcomes)
        return outcomes

    def _record_each_alone(
        self, records: Sequence[BattleRecord], outcomes: list[Exception | None]
    ) -> None:
        """Write each record whose outcome is still None in its own transaction, setting its
        outcome to its refusal; once the database itself fails, the rest fail with it."""
        pending = [position for position, outcome in enumerate(outcomes) if outcome is None]
        for at, position in enumerate(pending):
            try:
                self.record_battle(records[position])
            except Exception as failure:
                outcomes[position] = refusal(records[position], failure)
                if database_unavailable(failure):
                    for later in pending[at + 1:]:
                        outcomes[later] = failure
                    return

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
        with self.connections.write() as connection:
            seen = existing_ids(connection, [r.battle_id for r in batch])
            fresh = []
            for record in batch:
                if record.battle_id in seen:
                    present += 1
                    continue
                fresh.append(record)
                seen.add(record.battle_id)
            insert_records(connection, fresh)
        return len(fresh), present

    def set_reason(self, battle_id: str, rater_hash: str, tags: list[str],
                   comment: str | None) -> bool:
        """Store the rater's reason (sorted unique `tags`, an optional `comment`) on the vote
        of `battle_id`, if `rater_hash` gave that vote and it has no reason yet. True if it was
        stored; False otherwise (`vote_facts` tells why). Committed before returning."""
        with self.connections.write() as connection:
            return set_reason(connection, battle_id, rater_hash, list(tags), comment)

    # -- reading ------------------------------------------------------------------------------

    def vote_facts(self, battle_id: str) -> VoteFacts | None:
        """The few facts of a stored battle the rater's after-vote steps check (who voted,
        whether its text may be published, whether the vote has a reason); None when the
        battle is not stored. Reads no conversation."""
        with self.connections.read() as connection:
            row = connection.execute(vote_facts_query(battle_id)).first()
        if row is None:
            return None
        return VoteFacts(rater_hash=row.rater_hash, status=row.status, mode=row.mode,
                         publish_consent=row.publish_consent, winner=row.winner,
                         has_reason=bool(row.reason_tags) or row.reason_comment is not None)

    def get_battle(self, battle_id: str) -> BattleRecord | None:
        """The stored battle with this id, or None."""
        with self.connections.read() as connection:
            records = load_records(connection, [battle_id])
        return records[0] if records else None

    def has_battle(self, battle_id: str) -> bool:
        """True when a battle with this id is stored."""
        with self.connections.read() as connection:
            return bool(existing_ids(connection, [battle_id]))

    def count_battles(
        self,
        *,
        mode: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many stored battles match (all of) the filters."""
        query = count_query(mode, status, since)
        with self.connections.read() as connection:
            return int(connection.execute(query).scalar_one())

    def pair_counts(
        self, *, mode: str | None = None, status: str | None = None
    ) -> dict[tuple[str, str], int]:
        """Battles per (model_a, model_b) as shown, counted in SQL (no records are loaded)."""
        query = pair_count_query(mode, status)
        with self.connections.read() as connection:
            return {(a, b): int(n) for a, b, n in connection.execute(query)}

    def ping(self) -> None:
        """Raise if the database cannot be reached (a trivial query, for health checks)."""
        with self.connections.read() as connection:
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
            query = keys_page_query(mode, status, since, after, batch_size)
            with self.connections.read() as connection:
                keys = connection.execute(query).all()
                if not keys:
                    return
                records = load_records(connection, [key.battle_id for key in keys])
            yield from records
            after = (keys[-1].started_at, keys[-1].battle_id)
            if len(keys) < batch_size:
                return

    def close(self) -> None:
        """Release every pooled connection. The BattleLog must not be used afterwards."""
        self.connections.close()
