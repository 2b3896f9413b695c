"""The SQL of the vote log: statements over its tables, run on a connection whose transaction
the caller owns (arena.store.connections).

Records go in with one statement per table for a whole batch and come back with one query per
table for a batch of ids; battles are filtered by mode, status and start time, and paged by
their (started_at, battle_id) key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Select, Text, cast, func, or_, select, update

from arena.record import BattleRecord
from arena.store.rows import record_to_rows, rows_to_record
from arena.store.sqlite_rows import insert_rows
from arena.store.tables import BattleRow, GenerationRow, TurnRow, VoteRow

battle_t = BattleRow.__table__
vote_t = VoteRow.__table__
turn_t = TurnRow.__table__
generation_t = GenerationRow.__table__

# Postgres and SQLite both accept this many bound ids in one `IN (...)`; larger batches are
# split. (SQLite's limit is 32766 variables since 3.32.)
MAX_IDS_PER_QUERY = 900


def existing_ids(connection: Connection, ids: list[str]) -> set[str]:
    """Those of `ids` that are stored battles."""
    found: set[str] = set()
    for start in range(0, len(ids), MAX_IDS_PER_QUERY):
        chunk = ids[start : start + MAX_IDS_PER_QUERY]
        query = select(battle_t.c.battle_id).where(battle_t.c.battle_id.in_(chunk))
        found.update(connection.execute(query).scalars())
    return found


def insert_records(connection: Connection, records: Sequence[BattleRecord]) -> None:
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


def load_records(connection: Connection, ids: list[str]) -> list[BattleRecord]:
    """The battles with these ids, in the order of `ids`, read with one query per table."""
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


def count_query(mode: str | None, status: str | None, since: datetime | None) -> Select:
    """How many battles match (all of) the filters, as one scalar."""
    return filtered(select(func.count()).select_from(battle_t), mode, status, since)


def pair_count_query(mode: str | None, status: str | None) -> Select:
    """(model_a, model_b, battles) for every pair as shown, among the matching battles."""
    query = select(battle_t.c.model_a, battle_t.c.model_b, func.count()).select_from(battle_t)
    return filtered(query, mode, status, None).group_by(battle_t.c.model_a, battle_t.c.model_b)


def keys_page_query(
    mode: str | None,
    status: str | None,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    batch_size: int,
) -> Select:
    """The (battle_id, started_at) of the next `batch_size` matching battles in
    (started_at, battle_id) order, after the key `after` (from the start when None)."""
    query = filtered(select(battle_t.c.battle_id, battle_t.c.started_at), mode, status, since)
    if after is not None:
        query = query.where(
            or_(
                battle_t.c.started_at > after[0],
                (battle_t.c.started_at == after[0]) & (battle_t.c.battle_id > after[1]),
            )
        )
    return query.order_by(battle_t.c.started_at, battle_t.c.battle_id).limit(batch_size)


def filtered(
    query: Select, mode: str | None, status: str | None, since: datetime | None
) -> Select:
    """`query` restricted to battles of `mode`, in `status`, started at or after `since`
    (timezone-aware); a None filter keeps every battle."""
    if mode is not None:
        query = query.where(battle_t.c.mode == mode)
    if status is not None:
        query = query.where(battle_t.c.status == status)
    if since is not None:
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware (UTC)")
        query = query.where(battle_t.c.started_at >= since)
    return query


def vote_facts_query(battle_id: str) -> Select:
    """What the rater's after-vote steps check of one battle: (rater_hash, status, mode,
    publish_consent, winner, reason_tags, reason_comment); winner and the reason are null
    without a vote."""
    return (
        select(battle_t.c.rater_hash, battle_t.c.status, battle_t.c.mode,
               battle_t.c.publish_consent, vote_t.c.winner, vote_t.c.reason_tags,
               vote_t.c.reason_comment)
        .select_from(battle_t.outerjoin(vote_t, vote_t.c.battle_id == battle_t.c.battle_id))
        .where(battle_t.c.battle_id == battle_id)
    )


def set_reason(connection: Connection, battle_id: str, rater_hash: str, tags: list[str],
               comment: str | None) -> bool:
    """Set the reason of a battle's vote if it has none yet and `rater_hash` gave the vote;
    True if a row changed. One conditional UPDATE, so two reasons at once keep the first."""
    voted_by = select(battle_t.c.battle_id).where(
        battle_t.c.battle_id == battle_id, battle_t.c.rater_hash == rater_hash)
    statement = (
        update(vote_t)
        .where(vote_t.c.battle_id == battle_id, vote_t.c.battle_id.in_(voted_by),
               # JSON has no equality in PostgreSQL: compare the text as written ('[]').
               cast(vote_t.c.reason_tags, Text) == "[]", vote_t.c.reason_comment.is_(None))
        .values(reason_tags=tags, reason_comment=comment)
    )
    return connection.execute(statement).rowcount == 1
