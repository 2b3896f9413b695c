"""Store schema version 5: stored style features and speeds, and the vote's commit key.

battle.tokens_a/_b, words_a/_b, headers_a/_b, lists_a/_b, bold_a/_b: each side's style
features, generation.ttft_s and tokens_per_s: each generation's speed, as
arena.store.derived computes them when a battle is recorded, so that `arena ratings --db` and
the live leaderboard aggregate them in SQL instead of reading every conversation. Old rows are
backfilled here, BACKFILL_BATCH battles at a time (their conversations and generations read
and the columns written with one statement per batch), with the same functions.

vote.commit_key (indexed): set by a trigger on every insert, so that "every vote with a key
below W" is a set no later commit can grow (the leaderboard's watermark):
- SQLite: AFTER INSERT, max(commit_key) + 1. One writer commits at a time (BEGIN IMMEDIATE
  takes the lock before the insert), so keys follow commit order.
- PostgreSQL: BEFORE INSERT, the inserting transaction's id (pg_current_xact_id(), 64 bits,
  PostgreSQL 13 or newer). Transactions commit in any order, but every transaction whose id is
  below a snapshot's xmin has finished: a reader that takes W = pg_snapshot_xmin of its own
  snapshot sees every vote below W that will ever exist.
Old votes get their rowid on SQLite and 0 on PostgreSQL (all older than any later reader).

SQLite only: covering indexes for the ratings' reads (SQLITE_RATING_INDEXES), so that the
GROUP BY and the speeds read narrow index pages instead of the battle rows with their
conversations (measured on 1.7 M battles: 25 s -> 6 s for the counts). They are not in
arena/store/tables.py: PostgreSQL has no btree on JSON, and its planner reads the heap anyway.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from arena.store.derived import speed_columns, style_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA_VERSION = 5
BACKFILL_BATCH = 2000
STYLE = ("tokens_a", "tokens_b", "words_a", "words_b", "headers_a", "headers_b", "lists_a",
         "lists_b", "bold_a", "bold_b")

SQLITE_RATING_INDEXES = {
    "ix_battle_rating": ("battle", ("battle_id", "status", "model_a", "model_b", "mode",
                                    "flags", "labels", "category", "language")),
    "ix_vote_rating": ("vote", ("battle_id", "commit_key", "winner")),
    "ix_generation_speed": ("generation", ("battle_id", "side", "ttft_s", "tokens_per_s")),
}
SQLITE_TRIGGER = """
CREATE TRIGGER vote_commit_key AFTER INSERT ON vote
BEGIN
    UPDATE vote SET commit_key = (SELECT coalesce(max(commit_key), 0) + 1 FROM vote)
    WHERE rowid = NEW.rowid;
END
"""
POSTGRES_FUNCTION = """
CREATE FUNCTION arena_vote_commit_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.commit_key := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER vote_commit_key BEFORE INSERT ON vote
FOR EACH ROW EXECUTE FUNCTION arena_vote_commit_key()
"""


def upgrade() -> None:
    for name in STYLE:
        op.add_column("battle", sa.Column(
            name, sa.BigInteger if name.startswith("tokens") else sa.Integer, nullable=True))
    op.add_column("generation", sa.Column("ttft_s", sa.Float(53), nullable=True))
    op.add_column("generation", sa.Column("tokens_per_s", sa.Float(53), nullable=True))
    op.add_column("vote", sa.Column("commit_key", sa.BigInteger, nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE vote SET commit_key = 0")
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute("UPDATE vote SET commit_key = rowid")
        op.execute(SQLITE_TRIGGER)
    op.create_index("ix_vote_commit_key", "vote", ["commit_key"])
    _backfill(bind)
    if bind.dialect.name == "sqlite":
        for name, (table, columns) in SQLITE_RATING_INDEXES.items():
            op.create_index(name, table, list(columns))
    meta = sa.table("arena_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(
        meta.update()
        .where(meta.c.key == "schema_version")
        .values(value=str(SCHEMA_VERSION))
    )


def _json(value: Any) -> Any:
    """A JSON column as Python (SQLite's driver returns text here: no SQLAlchemy type)."""
    return json.loads(value) if isinstance(value, str) else value


def _backfill(bind: sa.Connection) -> None:
    """Fill the derived columns of every stored battle and generation, batch by batch in
    battle_id order (keyset: each batch starts after the last id of the previous one)."""
    battle = sa.table("battle", sa.column("battle_id", sa.String),
                      sa.column("conversation_a", sa.JSON), sa.column("conversation_b", sa.JSON),
                      *(sa.column(name) for name in STYLE))
    generation = sa.table(
        "generation", *(sa.column(name) for name in (
            "battle_id", "position", "side", "started_at", "first_token_at", "finished_at",
            "completion_tokens", "ttft_s", "tokens_per_s")))
    after = ""
    while True:
        rows = bind.execute(
            sa.select(battle.c.battle_id, battle.c.conversation_a, battle.c.conversation_b)
            .where(battle.c.battle_id > after).order_by(battle.c.battle_id)
            .limit(BACKFILL_BATCH)).all()
        if not rows:
            return
        ids = [row.battle_id for row in rows]
        generations = bind.execute(
            sa.select(generation).where(generation.c.battle_id.in_(ids))
            .order_by(generation.c.battle_id, generation.c.position)).mappings().all()
        _write_batch(bind, battle, generation, rows, generations)
        after = ids[-1]


def _write_batch(bind: sa.Connection, battle: Any, generation: Any, rows: list[Any],
                 generations: list[Any]) -> None:
    tokens: dict[tuple[str, str], list[int | None]] = {}
    speeds = []
    for gen in generations:
        tokens.setdefault((gen["battle_id"], gen["side"]), []).append(gen["completion_tokens"])
        speed = speed_columns(*(_instant(gen[name]) for name in (
            "started_at", "first_token_at", "finished_at")), gen["completion_tokens"])
        speeds.append({"b_id": gen["battle_id"], "b_position": gen["position"],
                       "b_side": gen["side"], **{f"v_{k}": v for k, v in speed.items()}})
    styles = []
    for row in rows:
        columns = style_columns(_json(row.conversation_a), _json(row.conversation_b),
                                tokens.get((row.battle_id, "a"), []),
                                tokens.get((row.battle_id, "b"), []))
        styles.append({"b_id": row.battle_id, **{f"v_{k}": v for k, v in columns.items()}})
    bind.execute(battle.update().where(battle.c.battle_id == sa.bindparam("b_id"))
                 .values({name: sa.bindparam(f"v_{name}") for name in STYLE}), styles)
    if speeds:
        bind.execute(
            generation.update().where(
                (generation.c.battle_id == sa.bindparam("b_id"))
                & (generation.c.position == sa.bindparam("b_position"))
                & (generation.c.side == sa.bindparam("b_side")))
            .values(ttft_s=sa.bindparam("v_ttft_s"),
                    tokens_per_s=sa.bindparam("v_tokens_per_s")), speeds)


def _instant(value: Any) -> Any:
    """A stored instant as an aware datetime in UTC, as arena.store.types.UtcDateTime reads
    it (SQLite keeps naive UTC text; PostgreSQL returns an aware datetime)."""
    from datetime import UTC, datetime

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    # Arena never downgrades (docs/vote-log.md, "Migrations"): export JSONL and import it
    # into a fresh database with the older arena instead.
    raise NotImplementedError("the vote log is never downgraded; export JSONL instead")
