"""Creating the tables on first use and refusing databases from the future.

The schema version lives in `arena_meta` under the key "schema_version". On open:
- no `arena_meta` table: a fresh database; create every table and write the version;
- the stored version equals STORE_SCHEMA_VERSION: use it;
- it is newer: raise SchemaTooNew (this program would misread or damage it);
- it is older: apply MIGRATIONS[v] for v = stored .. current-1, in one transaction.

Creation runs inside a write transaction (BEGIN IMMEDIATE on SQLite, an advisory lock on
Postgres), so several processes opening a fresh database at once create it exactly once.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, select, text

from arena.store.engine import describe_url
from arena.store.errors import SchemaError, SchemaTooNew
from arena.store.tables import STORE_SCHEMA_VERSION, TABLES, MetaRow

SCHEMA_KEY = "schema_version"
# Arbitrary constant naming the "create the arena schema" lock among Postgres advisory locks.
_PG_SCHEMA_LOCK = 0x6172656E61

# MIGRATIONS[v] upgrades a database at version v to v + 1, given a connection in a transaction.
# Empty while there is only version 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

meta = MetaRow.__table__


def ensure_schema(engine: Engine) -> int:
    """Create or check the tables; returns the schema version now in the database."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
        if not inspect(connection).has_table(meta.name):
            if inspect(connection).has_table("battle"):
                raise SchemaError(
                    f"{describe_url(engine.url)} has a 'battle' table but no 'arena_meta' table: "
                    "it was not made by arena. Point --db at another database."
                )
            for table in TABLES:
                table.create(connection, checkfirst=True)
            connection.execute(
                meta.insert().values(key=SCHEMA_KEY, value=str(STORE_SCHEMA_VERSION))
            )
            return STORE_SCHEMA_VERSION
        stored = _stored_version(connection, engine)
        if stored > STORE_SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{describe_url(engine.url)} has battle-log schema version {stored}, but this "
                f"arena knows only versions up to {STORE_SCHEMA_VERSION}. Upgrade arena "
                "(pip install -U arena, or git pull and make venv) to open it; it was not changed."
            )
        for version in range(stored, STORE_SCHEMA_VERSION):
            if version not in MIGRATIONS:
                raise SchemaError(
                    f"{describe_url(engine.url)} has schema version {stored} and there is no "
                    f"migration from version {version}; export it with the arena that wrote it "
                    "and import the JSONL into a new database."
                )
            MIGRATIONS[version](connection)
        if stored != STORE_SCHEMA_VERSION:
            connection.execute(
                meta.update()
                .where(meta.c.key == SCHEMA_KEY)
                .values(value=str(STORE_SCHEMA_VERSION))
            )
        return STORE_SCHEMA_VERSION


def _stored_version(connection: Connection, engine: Engine) -> int:
    value = connection.execute(select(meta.c.value).where(meta.c.key == SCHEMA_KEY)).scalar()
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(
            f"{describe_url(engine.url)}: arena_meta.schema_version is {value!r}, not a number; "
            "the database is damaged. Restore it from a backup or a JSONL export."
        ) from None
