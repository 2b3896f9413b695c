"""The vote log's tables (sqlmodel), one per idea.

    arena_meta   key/value facts about the database itself (the schema version)
    battle       one row per battle: who, when, how the pair was chosen, mode, status, flags,
                 the rater's answer to the publication terms, the automatic labels and the
                 models' lifecycle states, the turns a Regenerate replaced, and a judge
                 verdict's details
                 and, from version 5, its answers' style features (arena.store.derived)
    vote         at most one row per battle: the winner, when it was given, the rater's
                 optional reason (tags and a comment) and its commit key (below)
    turn         one row per user prompt of a battle (position = order in the record)
    generation   one row per turn and side ("a" = left, "b" = right): the full
                 serving.records.GenerationRecord, sampling parameters included, and from
                 version 5 its time to first token and decode speed (arena.store.derived)

`vote.commit_key` orders votes by when they became visible, so that a reader can take "every
vote below W" and know that no vote committed later will ever fall below W (the live
leaderboard's watermark, arena.store.aggregate). A trigger sets it on every insert, whatever
the statement says: on SQLite, where one writer commits at a time, max(commit_key) + 1; on
PostgreSQL, the id of the inserting transaction (pg_current_xact_id(), 64 bits, never wraps),
which with the snapshot's xmin gives the same guarantee (migration r0005 says how).

The vote is its own table so that "a battle has at most one vote" is a primary key, and so
that queries over votes (the ratings) do not touch abandoned battles. Free-form nested values
(conversations, sampling parameters, flags) are JSON columns: they are read back whole, never
queried piecewise. JSON, not JSONB, so that Postgres keeps key order and the text as written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from arena.store.types import UtcDateTime

# Version of the table layout (not of the JSONL record format, arena.record.SCHEMA_VERSION).
# Bump it together with a new revision in arena/store/migrations/versions whenever the tables
# change (docs/vote-log.md, "Migrations"); the revision writes it into arena_meta.
STORE_SCHEMA_VERSION = 5


class MetaRow(SQLModel, table=True):
    __tablename__ = "arena_meta"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class BattleRow(SQLModel, table=True):
    __tablename__ = "battle"
    __table_args__ = (
        Index("ix_battle_started", "started_at", "battle_id"),
        Index("ix_battle_mode_status", "mode", "status"),
    )

    battle_id: str = Field(sa_column=Column(String(200), primary_key=True))
    mode: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    end_reason: str | None = Field(default=None, sa_column=Column(Text))
    model_a: str = Field(sa_column=Column(Text, nullable=False))
    model_b: str = Field(sa_column=Column(Text, nullable=False))
    system_prompt_a: str = Field(sa_column=Column(Text, nullable=False))
    system_prompt_b: str = Field(sa_column=Column(Text, nullable=False))
    conversation_a: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    conversation_b: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ended_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    rater_hash: str = Field(sa_column=Column(Text, nullable=False))
    pair_policy: str = Field(sa_column=Column(Text, nullable=False))
    pair_probability: float | None = Field(default=None, sa_column=Column(Float(53)))
    side_seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    flags: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    language: str | None = Field(default=None, sa_column=Column(Text))
    category: str | None = Field(default=None, sa_column=Column(Text))
    replay_of: str | None = Field(default=None, sa_column=Column(String(200)))
    schema_version: int = Field(sa_column=Column(Integer, nullable=False))
    app_version: str = Field(sa_column=Column(Text, nullable=False))
    # Store schema version 2 (migration r0002): null = the rater was never asked.
    publish_consent: bool | None = Field(default=None, sa_column=Column(Boolean))
    terms_version: str | None = Field(default=None, sa_column=Column(Text))
    # Store schema version 3 (migration r0003): automatic labels (arena.labels; [] and null
    # = never labelled) and each side's model lifecycle state (null = before states existed).
    labels: list[Any] = Field(
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'"))
    )
    labeller_version: str | None = Field(default=None, sa_column=Column(Text))
    model_state_a: str | None = Field(default=None, sa_column=Column(Text))
    model_state_b: str | None = Field(default=None, sa_column=Column(Text))
    # Store schema version 4 (migration r0004): the turns a Regenerate replaced (JSON list of
    # turn objects as in the JSONL record; read back whole) and a judge verdict's details
    # (null on every human battle).
    discarded_turns: list[Any] = Field(
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'"))
    )
    judge: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Store schema version 5 (migration r0005): style features of each side's answers
    # (arena.store.derived.STYLE_COLUMNS); tokens null when a turn lacks the count.
    tokens_a: int | None = Field(default=None, sa_column=Column(BigInteger))
    tokens_b: int | None = Field(default=None, sa_column=Column(BigInteger))
    words_a: int | None = Field(default=None, sa_column=Column(Integer))
    words_b: int | None = Field(default=None, sa_column=Column(Integer))
    headers_a: int | None = Field(default=None, sa_column=Column(Integer))
    headers_b: int | None = Field(default=None, sa_column=Column(Integer))
    lists_a: int | None = Field(default=None, sa_column=Column(Integer))
    lists_b: int | None = Field(default=None, sa_column=Column(Integer))
    bold_a: int | None = Field(default=None, sa_column=Column(Integer))
    bold_b: int | None = Field(default=None, sa_column=Column(Integer))


class VoteRow(SQLModel, table=True):
    __tablename__ = "vote"
    __table_args__ = (Index("ix_vote_commit_key", "commit_key"),)

    battle_id: str = Field(
        sa_column=Column(
            String(200), ForeignKey("battle.battle_id", ondelete="CASCADE"), primary_key=True
        )
    )
    winner: str = Field(sa_column=Column(String(32), nullable=False))
    voted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    # Store schema version 4 (migration r0004): the rater's optional reason, given after the
    # vote ([] and null: none given).
    reason_tags: list[Any] = Field(
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'"))
    )
    reason_comment: str | None = Field(default=None, sa_column=Column(Text))
    # Store schema version 5 (migration r0005): set by a trigger (module docstring).
    commit_key: int | None = Field(default=None, sa_column=Column(BigInteger))


class TurnRow(SQLModel, table=True):
    __tablename__ = "turn"

    battle_id: str = Field(
        sa_column=Column(
            String(200), ForeignKey("battle.battle_id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    turn_index: int = Field(sa_column=Column(Integer, nullable=False))
    prompt: str = Field(sa_column=Column(Text, nullable=False))


class GenerationRow(SQLModel, table=True):
    __tablename__ = "generation"
    __table_args__ = (
        ForeignKeyConstraint(
            ["battle_id", "position"], ["turn.battle_id", "turn.position"], ondelete="CASCADE"
        ),
    )

    battle_id: str = Field(sa_column=Column(String(200), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    side: str = Field(sa_column=Column(String(1), primary_key=True))
    endpoint: str = Field(sa_column=Column(Text, nullable=False))
    served_model: str = Field(sa_column=Column(Text, nullable=False))
    messages: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    output: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    first_token_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    prompt_tokens: int | None = Field(default=None, sa_column=Column(BigInteger))
    completion_tokens: int | None = Field(default=None, sa_column=Column(BigInteger))
    finish_reason: str | None = Field(default=None, sa_column=Column(Text))
    system_fingerprint: str | None = Field(default=None, sa_column=Column(Text))
    response_model: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    extra: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Store schema version 5 (migration r0005): seconds to the first token and completion
    # tokens per second of decoding (arena.store.derived); null where the log lacks a time.
    ttft_s: float | None = Field(default=None, sa_column=Column(Float(53)))
    tokens_per_s: float | None = Field(default=None, sa_column=Column(Float(53)))


# Creation order (parents first); the only tables this package creates or checks.
TABLES = [
    MetaRow.__table__,
    BattleRow.__table__,
    VoteRow.__table__,
    TurnRow.__table__,
    GenerationRow.__table__,
]
