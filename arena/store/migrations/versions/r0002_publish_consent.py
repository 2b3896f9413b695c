"""Store schema version 2: the rater's answer to the publication terms, per battle.

battle.publish_consent (boolean, null = never asked) and battle.terms_version (text, the
version of the terms answered; null = never asked). Both nullable: every battle logged before
keeps its values and reads as "never asked", so its text is never published. Adding a
nullable column is a plain ALTER TABLE on SQLite too (no table copy, no batch mode).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA_VERSION = 2


def upgrade() -> None:
    op.add_column("battle", sa.Column("publish_consent", sa.Boolean, nullable=True))
    op.add_column("battle", sa.Column("terms_version", sa.Text, nullable=True))
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
