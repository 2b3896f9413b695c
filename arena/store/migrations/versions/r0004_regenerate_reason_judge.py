"""Store schema version 4: regenerated turns, the rater's reason, and LLM-judge verdicts.

battle.discarded_turns (JSON list of turn objects, not null; every battle logged before reads
'[]'): the turns a Regenerate replaced, so that a regenerated battle still replays exactly.
battle.judge (JSON, null on every human battle): on a verdict of an LLM judge (mode "judge"),
the judge model, its prompt template and hash, the order the answers were shown in, the raw
output, the choices' log-probabilities and the judge call's generation record.
vote.reason_tags (JSON list, not null, '[]') and vote.reason_comment (text, null): the rater's
optional reason, given after the vote. The server defaults fill the old rows in the ALTER TABLE
itself, so SQLite needs no table copy; arena always writes the columns.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA_VERSION = 4


def upgrade() -> None:
    empty_list = sa.text("'[]'")
    op.add_column(
        "battle", sa.Column("discarded_turns", sa.JSON, nullable=False, server_default=empty_list)
    )
    op.add_column("battle", sa.Column("judge", sa.JSON, nullable=True))
    op.add_column(
        "vote", sa.Column("reason_tags", sa.JSON, nullable=False, server_default=empty_list)
    )
    op.add_column("vote", sa.Column("reason_comment", sa.Text, nullable=True))
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
