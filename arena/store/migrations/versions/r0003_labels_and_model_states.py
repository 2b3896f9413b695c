"""Store schema version 3: automatic labels and the models' lifecycle states, per battle.

battle.labels (JSON list of strings, not null; every battle logged before reads '[]'),
battle.labeller_version (text, null = never labelled: `arena label` fills both for an old
log), battle.model_state_a / model_state_b (text: "preview", "active" or "retired" when the
battle started; null for battles logged before states existed). `labels` keeps its server
default '[]' so that the ALTER TABLE fills the old rows in one statement and SQLite needs no
table copy; arena itself always writes the column.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA_VERSION = 3


def upgrade() -> None:
    op.add_column(
        "battle", sa.Column("labels", sa.JSON, nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column("battle", sa.Column("labeller_version", sa.Text, nullable=True))
    op.add_column("battle", sa.Column("model_state_a", sa.Text, nullable=True))
    op.add_column("battle", sa.Column("model_state_b", sa.Text, nullable=True))
    meta = sa.table("arena_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(
        meta.update()
        .where(meta.c.key == "schema_version")
        .values(value=str(SCHEMA_VERSION))
    )


def downgrade() -> None:
    # Arena never downgrades (docs/vote-log.md, "Migrations"): export JSONL and import it
    # into a fresh database with the older arena instead.
    raise NotImplementedError("the vote log is never downgraded; export JSONL instead")
