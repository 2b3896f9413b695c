"""Creating and upgrading the tables on open (Alembic), and refusing databases from the future.

The migrations live in arena/store/migrations/versions (one Alembic revision per store schema
version: r0001 is the schema arena created before Alembic, r0002 adds the consent columns,
r0003 the labels and the models' lifecycle states, r0004 regenerated turns, the rater's
reason and LLM-judge verdicts, r0005 the stored style features and generation speeds, the
vote's commit key (a trigger) and, on SQLite, covering indexes for the ratings' reads).
`arena_meta.schema_version` keeps the number in step with the revision, so that an arena from
before Alembic, which reads only that row, refuses a newer database instead of misreading it.

On open, inside one write transaction (BEGIN IMMEDIATE on SQLite, an advisory lock on
Postgres), so that several processes opening the same database migrate it exactly once:
- no `arena_meta` table: a fresh database; run every revision;
- `arena_meta.schema_version` above STORE_SCHEMA_VERSION, or an Alembic revision this arena
  does not know: raise SchemaTooNew and change nothing;
- version 1 without an `alembic_version` table: made before Alembic; stamp it at r0001;
- then upgrade to the newest revision (nothing to do when it is there already).
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, select, text

from arena.store.engine import describe_url
from arena.store.errors import SchemaError, SchemaTooNew
from arena.store.tables import STORE_SCHEMA_VERSION, MetaRow

SCHEMA_KEY = "schema_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The revision that describes store schema version 1, at which pre-Alembic databases are stamped.
FIRST_REVISION = "0001"
# Arbitrary constant naming the "create the arena schema" lock among Postgres advisory locks.
_PG_SCHEMA_LOCK = 0x6172656E61

meta = MetaRow.__table__


def migrations_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the vote log, migrating `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def migration_scripts() -> ScriptDirectory:
    """The revisions this arena knows (read once per process: every open asks)."""
    return ScriptDirectory.from_config(migrations_config())


def head_revision() -> str:
    """The newest revision this arena knows."""
    head = migration_scripts().get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def ensure_schema(engine: Engine) -> int:
    """Create or upgrade the tables; returns the schema version now in the database."""
    where = describe_url(engine.url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
        tables = inspect(connection)
        if tables.has_table(meta.name):
            revision = _check_not_newer(connection, where)
            if revision == head_revision():  # the usual case: up to date, nothing to run
                return _stored_version(connection, where)
        elif tables.has_table("battle"):
            raise SchemaError(
                f"{where} has a 'battle' table but no 'arena_meta' table: it was not made by "
                "arena. Point --db at another database."
            )
        config = migrations_config(connection)
        if tables.has_table(meta.name) and not tables.has_table("alembic_version"):
            # Made before Alembic: _check_not_newer let only version 1 through.
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "head")
        return _stored_version(connection, where)


def _check_not_newer(connection: Connection, where: str) -> str | None:
    """The database's Alembic revision (None before Alembic); raises SchemaTooNew
    (SchemaError for damage) unless this arena can upgrade or use the database."""
    stored = _stored_version(connection, where)
    revision = MigrationContext.configure(connection).get_current_revision()
    unknown_revision = False
    if revision is not None:
        try:
            unknown_revision = migration_scripts().get_revision(revision) is None
        except (CommandError, RevisionError):
            unknown_revision = True
    if stored > STORE_SCHEMA_VERSION or unknown_revision:
        shown = f"battle-log schema version {stored}" + (
            f" (migration {revision})" if unknown_revision else ""
        )
        raise SchemaTooNew(
            f"{where} has {shown}, but this arena knows only versions up to "
            f"{STORE_SCHEMA_VERSION}. Upgrade arena (pip install -U arena, or git pull and "
            "make venv) to open it; it was not changed."
        )
    if revision is None and stored != 1:
        raise SchemaError(
            f"{where} has schema version {stored} but no record of its migrations "
            "(alembic_version); it was not made by a released arena. Export it with the arena "
            "that wrote it and import the JSONL into a new database."
        )
    return revision


def _stored_version(connection: Connection, where: str) -> int:
    value = connection.execute(select(meta.c.value).where(meta.c.key == SCHEMA_KEY)).scalar()
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(
            f"{where}: arena_meta.schema_version is {value!r}, not a number; "
            "the database is damaged. Restore it from a backup or a JSONL export."
        ) from None
