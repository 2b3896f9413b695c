"""Alembic's environment for the vote log: migrate the connection arena.store.schema passes.

`ensure_schema` opens a write transaction (BEGIN IMMEDIATE on SQLite, an advisory lock on
Postgres), decides what to do, and hands its connection over in `config.attributes`. Alembic
sees the transaction already open and runs every step inside it, so an upgrade commits whole
or not at all, and a second process waiting on the lock finds the work done.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the vote log's migrations run when arena opens the database (arena.store.BattleLog), "
        "not from the alembic command line"
    )
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
