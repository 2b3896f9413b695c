"""Store schema version 1: the tables arena created before it used Alembic.

A database made by that arena (arena_meta.schema_version = 1, no alembic_version table) is
stamped at this revision rather than run through it (arena.store.schema). Frozen: this file
says what version 1 was, whatever arena/store/tables.py says today.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The battle-log schema version this revision leaves in arena_meta.
SCHEMA_VERSION = 1


def _instant(name: str, *, nullable: bool = True) -> sa.Column:
    # arena.store.types.UtcDateTime stores into a DateTime(timezone=True) column.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    meta = op.create_table(
        "arena_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    _battle()
    op.create_table(
        "vote",
        sa.Column("battle_id", sa.String(200),
                  sa.ForeignKey("battle.battle_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("winner", sa.String(32), nullable=False),
        _instant("voted_at"),
    )  # fmt: skip
    op.create_table(
        "turn",
        sa.Column("battle_id", sa.String(200),
                  sa.ForeignKey("battle.battle_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("turn_index", sa.Integer, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
    )  # fmt: skip
    _generation()
    op.bulk_insert(meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}])


def _battle() -> None:
    op.create_table(
        "battle",
        sa.Column("battle_id", sa.String(200), primary_key=True),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("end_reason", sa.Text),
        sa.Column("model_a", sa.Text, nullable=False),
        sa.Column("model_b", sa.Text, nullable=False),
        sa.Column("system_prompt_a", sa.Text, nullable=False),
        sa.Column("system_prompt_b", sa.Text, nullable=False),
        sa.Column("conversation_a", sa.JSON, nullable=False),
        sa.Column("conversation_b", sa.JSON, nullable=False),
        _instant("started_at", nullable=False),
        _instant("ended_at", nullable=False),
        sa.Column("rater_hash", sa.Text, nullable=False),
        sa.Column("pair_policy", sa.Text, nullable=False),
        sa.Column("pair_probability", sa.Float(53)),
        sa.Column("side_seed", sa.BigInteger),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("language", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("replay_of", sa.String(200)),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("app_version", sa.Text, nullable=False),
    )
    op.create_index("ix_battle_started", "battle", ["started_at", "battle_id"])
    op.create_index("ix_battle_mode_status", "battle", ["mode", "status"])


def _generation() -> None:
    op.create_table(
        "generation",
        sa.Column("battle_id", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("side", sa.String(1), primary_key=True),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("served_model", sa.Text, nullable=False),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("seed", sa.BigInteger),
        sa.Column("output", sa.Text, nullable=False),
        _instant("started_at"),
        _instant("first_token_at"),
        _instant("finished_at"),
        sa.Column("prompt_tokens", sa.BigInteger),
        sa.Column("completion_tokens", sa.BigInteger),
        sa.Column("finish_reason", sa.Text),
        sa.Column("system_fingerprint", sa.Text),
        sa.Column("response_model", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["battle_id", "position"], ["turn.battle_id", "turn.position"],
                                ondelete="CASCADE"),
    )  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("the vote log is never downgraded; export JSONL instead")
