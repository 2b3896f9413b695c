"""The vote log's schema migrations (Alembic): `env.py` and one revision per file in versions/.

They run on open (arena.store.schema.ensure_schema), never by hand. How to add one:
docs/vote-log.md, "Migrations".
"""
