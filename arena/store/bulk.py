"""Moving many battles at once: rows prepared for insertion, and stored rows read back raw.

Imports and exports spend most of their time turning values from one form into another, not in
the database. This module removes the steps a bulk move does not need:

- `prepare` turns a checked BattleRecord into the rows of its tables, already converted the
  way the database binds them (on SQLite: `arena.store.sqlite_rows.row_values`, the very bytes
  SQLAlchemy would write). An import prepares each record once, while it validates the file,
  keeps the prepared rows in a `RowSpool` (a temporary file, so memory stays flat), and
  `insert_new` writes them later without checking or converting them again.
- `iter_raw` reads battles as the database stores them: on SQLite the JSON columns are their
  text and times are "YYYY-MM-DD HH:MM:SS.ffffff" UTC text, with no SQLAlchemy type processing
  and no BattleRecord in between. Exports build their output from these (arena.transfer.raw).
  Only SQLite has this path (`reads_raw`); other databases read BattleRecords.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, Table

from arena.record import BattleRecord
from arena.store.log import BattleLog
from arena.store.queries import existing_ids, keys_page_query
from arena.store.rows import record_to_rows
from arena.store.sqlite_rows import insert_values, row_values
from arena.store.tables import BattleRow, GenerationRow, TurnRow, VoteRow

# Parents first: foreign keys are checked per statement.
TABLES: tuple[Table, ...] = (BattleRow.__table__, VoteRow.__table__, TurnRow.__table__,
                             GenerationRow.__table__)  # type: ignore[assignment]
# SQLite's oldest limit on bound variables in one statement is 999.
MAX_IDS = 900


@dataclass(frozen=True)
class PreparedBattle:
    """The rows of one battle, per table of TABLES: value tuples (SQLite) or dicts."""

    battle_id: str
    rows: tuple[list[Any], list[Any], list[Any], list[Any]]


def is_sqlite(log: BattleLog) -> bool:
    return log.connections.engine.dialect.name == "sqlite"


def prepare(record: BattleRecord, *, sqlite: bool) -> PreparedBattle:
    """The rows of `record` (already checked with `check_storable`) ready for `insert_new`."""
    rows = record_to_rows(record)
    per_table: list[list[Any]] = [[rows.battle], [rows.vote] if rows.vote else [], rows.turns,
                                  rows.generations]
    if sqlite:
        per_table = [[row_values(table, row) for row in table_rows]
                     for table, table_rows in zip(TABLES, per_table, strict=True)]
    return PreparedBattle(record.battle_id, tuple(per_table))  # type: ignore[arg-type]


def insert_new(log: BattleLog, batch: Sequence[PreparedBattle]) -> tuple[int, int]:
    """Insert, in one transaction, the battles of `batch` whose id is not stored yet.

    Returns (inserted, already_present); an id repeated within `batch` counts as already
    present the second time, as in `BattleLog.record_new_battles`.
    """
    sqlite = is_sqlite(log)
    with log.connections.write() as connection:
        seen: set[str] = set()
        ids = [battle.battle_id for battle in batch]
        for start in range(0, len(ids), MAX_IDS):
            seen |= existing_ids(connection, ids[start:start + MAX_IDS])
        fresh = []
        for battle in batch:
            if battle.battle_id not in seen:
                seen.add(battle.battle_id)
                fresh.append(battle)
        for position, table in enumerate(TABLES):
            rows = [row for battle in fresh for row in battle.rows[position]]
            if not rows:
                continue
            if sqlite:
                insert_values(connection, table, rows)
            else:
                connection.execute(table.insert(), rows)
    return len(fresh), len(batch) - len(fresh)


class RowSpool:
    """Prepared battles parked in an anonymous temporary file, read back in order.

    Pickled in chunks of `chunk` battles (one pickle call per chunk is much cheaper than one
    per battle). Disk use is about the size of the rows; memory is one chunk.
    """

    def __init__(self, chunk: int = 500) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="arena-import-")
        self._pending: list[PreparedBattle] = []
        self._chunk = chunk
        self.count = 0

    def add(self, battle: PreparedBattle) -> None:
        self._pending.append(battle)
        self.count += 1
        if len(self._pending) >= self._chunk:
            self._flush()

    def add_pickled(self, rows: bytes, count: int) -> None:
        """Add `count` battles given as one pickled list of PreparedBattle (made elsewhere,
        e.g. by a worker process), without unpickling them."""
        self._flush()
        self._file.write(rows)
        self.count += count

    def batches(self, size: int) -> Iterator[list[PreparedBattle]]:
        """Every battle added, in order, `size` at a time."""
        self._flush()
        self._file.seek(0)
        batch: list[PreparedBattle] = []
        while True:
            try:
                chunk = pickle.load(self._file)
            except EOFError:
                break
            for battle in chunk:
                batch.append(battle)
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RowSpool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _flush(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []


@dataclass
class RawBattle:
    """One battle as SQLite stores it: column name -> stored value, per table."""

    battle: dict[str, Any]
    vote: dict[str, Any] | None
    turns: list[dict[str, Any]]  # by position
    generations: dict[tuple[int, str], dict[str, Any]]  # (position, side) -> row


def reads_raw(log: BattleLog) -> bool:
    """True when `iter_raw` can read this log (SQLite)."""
    return is_sqlite(log)


# What of a battle's turns and generations an export needs (the battle and vote rows are
# always read whole): "full" every column; "tokens" the generations' token counts only;
# "turns" only how many turns there are. Generations hold most of the bytes (messages,
# answers), so the Parquet and FastChat exports read far less.
NEEDS = ("full", "tokens", "turns")
_KEYS = ("battle_id", "position")
_GENERATION_KEYS = (*_KEYS, "side")


def iter_raw(
    log: BattleLog,
    *,
    since: datetime | None = None,
    mode: str | None = None,
    status: str | None = None,
    batch_size: int = 500,
    need: str = "full",
) -> Iterator[list[RawBattle]]:
    """Batches of the matching battles, in `BattleLog.iter_battles` order ((started_at,
    battle_id), keyset pages, one short read transaction per batch); `need` is one of NEEDS."""
    if not reads_raw(log):
        raise ValueError("raw reads need a SQLite vote log")
    if need not in NEEDS:
        raise ValueError(f"need must be one of {', '.join(NEEDS)}")
    batch_size = min(batch_size, MAX_IDS)
    after: tuple[datetime, str] | None = None
    while True:
        query = keys_page_query(mode, status, since, after, batch_size)
        with log.connections.read() as connection:
            keys = connection.execute(query).all()
            if not keys:
                return
            batch = _load_raw(connection, [key.battle_id for key in keys], need)
        yield batch
        after = (keys[-1].started_at, keys[-1].battle_id)
        if len(keys) < batch_size:
            return


def _select(connection: Connection, table: Table, ids: list[str],
            names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of `table` (the columns `names`, default all) of the battles `ids`, read with the
    driver's cursor: no SQLAlchemy row objects or type processing."""
    names = names or [column.name for column in table.columns]
    quoted = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in ids)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f'SELECT {quoted} FROM "{table.name}" WHERE battle_id IN ({marks})', ids)
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _load_raw(connection: Connection, ids: list[str], need: str) -> list[RawBattle]:
    battle_t, vote_t, turn_t, generation_t = TABLES
    battles = {row["battle_id"]: RawBattle(row, None, [], {})
               for row in _select(connection, battle_t, ids)}
    for row in _select(connection, vote_t, ids):
        battles[row["battle_id"]].vote = row
    for row in _select(connection, turn_t, ids, None if need == "full" else _KEYS):
        battles[row["battle_id"]].turns.append(row)
    if need != "turns":
        columns = None if need == "full" else (*_GENERATION_KEYS, "prompt_tokens",
                                               "completion_tokens")
        for row in _select(connection, generation_t, ids, columns):
            battles[row["battle_id"]].generations[(row["position"], row["side"])] = row
    for battle in battles.values():
        battle.turns.sort(key=lambda turn: turn["position"])
    return [battles[battle_id] for battle_id in ids if battle_id in battles]
