"""The vote log's Alembic migrations, on SQLite and a real PostgreSQL.

The old database is the one in tests/data/vote-log-v1.*: ten battles written by the arena of
the commit before Alembic (tests/data/make_vote_log_v1.py says how), loaded from its dump. It
must upgrade in place keeping every row and value, then log new battles with their consent; two
processes opening it at once migrate it once; a database from a newer arena is refused and
left as it was.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from factories import make_battle
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url

from arena.record import BattleRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog, SchemaError, SchemaTooNew
from arena.store.schema import head_revision
from arena.store.tables import TABLES

DATA = Path(__file__).resolve().parent / "data"
V1_TABLES = {  # table -> its primary key, the order its rows are compared in
    "arena_meta": "key",
    "battle": "battle_id",
    "vote": "battle_id",
    "turn": "battle_id, position",
    "generation": "battle_id, position, side",
}
NEW_BATTLE_COLUMNS = ("publish_consent", "terms_version")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def v1_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of store schema version 1 with the ten battles of tests/data, per backend."""
    if request.param == "sqlite":
        path = tmp_path / "v1.db"
        with sqlite3.connect(path) as raw:
            raw.executescript((DATA / "vote-log-v1.sqlite.sql").read_text())
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    load_postgres_dump(url, (DATA / "vote-log-v1.postgresql.sql").read_text())
    return url


def load_postgres_dump(url: str, sql: str) -> None:
    parsed = make_url(url)
    # The dump clears search_path for its own session: a connection of its own.
    with psycopg.connect(dbname=parsed.database, user=parsed.username, autocommit=True,
                         **{k: str(v) for k, v in parsed.query.items()}) as connection:
        connection.execute(sql)  # type: ignore[arg-type]  # a trusted file of our own


def raw_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the version 1 tables, as the driver returns them, in key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: [dict(row._mapping) for row in connection.execute(
                    text(f"SELECT * FROM {table} ORDER BY {key}"))]
                for table, key in V1_TABLES.items()
            }  # fmt: skip
    finally:
        engine.dispose()


def stored_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def expected_v1_records() -> list[BattleRecord]:
    lines = (DATA / "vote-log-v1.jsonl").read_text().splitlines()
    return [BattleRecord.from_dict(json.loads(line)) for line in lines]


# ------------------------------------------------------------------------- upgrade in place
def test_a_v1_database_upgrades_in_place_keeping_every_row_and_value(v1_url: str):
    before = raw_rows(v1_url)
    assert before["arena_meta"] == [{"key": "schema_version", "value": "1"}]
    assert len(before["battle"]) == 10 and stored_revision(v1_url) is None

    with BattleLog(v1_url) as log:
        assert log.schema_version == STORE_SCHEMA_VERSION == 2
        records = list(log.iter_battles())

    after = raw_rows(v1_url)
    assert after["arena_meta"] == [{"key": "schema_version", "value": "2"}]
    assert stored_revision(v1_url) == head_revision() == "0002"
    for table in ("vote", "turn", "generation"):
        assert after[table] == before[table], table
    assert [row["publish_consent"] for row in after["battle"]] == [None] * 10
    assert [row["terms_version"] for row in after["battle"]] == [None] * 10
    old_columns = [{k: v for k, v in row.items() if k not in NEW_BATTLE_COLUMNS}
                   for row in after["battle"]]
    assert old_columns == before["battle"]
    expected = {r.battle_id: r.to_dict() for r in expected_v1_records()}
    assert {r.battle_id: r.to_dict() for r in records} == expected


def test_after_the_upgrade_new_battles_record_the_raters_answer(v1_url: str):
    agreed = replace(make_battle(), battle_id="v2-agreed", publish_consent=True,
                     terms_version="2026-01")
    declined = replace(make_battle(), battle_id="v2-declined", publish_consent=False,
                       terms_version="2026-01")
    with BattleLog(v1_url) as log:
        log.record_battles([agreed, declined])
    with BattleLog(v1_url) as log:  # reopened: nothing left to migrate, nothing lost
        assert log.get_battle("v2-agreed") == agreed
        assert log.get_battle("v2-declined") == declined
        old = log.get_battle("v1-battle-01")
        assert old is not None and (old.publish_consent, old.terms_version) == (None, None)
        assert log.count_battles() == 12
    stored = {row["battle_id"]: row for row in raw_rows(v1_url)["battle"]}
    assert (stored["v2-agreed"]["publish_consent"], stored["v2-agreed"]["terms_version"]) == (
        True, "2026-01")  # fmt: skip
    assert stored["v2-declined"]["publish_consent"] in (False, 0)


def schema_of(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullable), keys and indexes, as the database reports them."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            return {
                table: {
                    "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                                      for c in found.get_columns(table)),
                    "primary_key": found.get_pk_constraint(table)["constrained_columns"],
                    "foreign_keys": sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"],
                         (f.get("options") or {}).get("ondelete"))
                        for f in found.get_foreign_keys(table)),
                    "indexes": sorted((i["name"], tuple(i["column_names"]))
                                      for i in found.get_indexes(table)),
                }
                for table in sorted(found.get_table_names())
            }  # fmt: skip
    finally:
        engine.dispose()


def test_an_upgraded_database_has_the_schema_of_a_fresh_one_and_of_the_tables(
    v1_url: str, tmp_path: Path, request: pytest.FixtureRequest
):
    fresh_url = (request.getfixturevalue("postgres_url") if v1_url.startswith("postgresql")
                 else f"sqlite:///{tmp_path / 'fresh.db'}")
    BattleLog(v1_url).close()
    BattleLog(fresh_url).close()
    assert schema_of(v1_url) == schema_of(fresh_url)
    assert set(schema_of(v1_url)["battle"]["columns"]) >= {
        ("publish_consent", "BOOLEAN", True), ("terms_version", "TEXT", True)}
    # The models in arena/store/tables.py describe exactly what the migrations built.
    models = MetaData()
    for table in TABLES:
        table.to_metadata(models)
    engine = create_engine(v1_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, models)
    finally:
        engine.dispose()
    assert [d for d in differences if "alembic_version" not in repr(d)] == []


# ------------------------------------------------------------------- concurrent first opens
def open_log(url: str, barrier: Any, results: Any) -> None:
    """A process opening the log at the same moment as its sibling; reports the upgrades it
    ran (Alembic logs each one) and the version it saw."""
    upgrades: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Running upgrade"):
                upgrades.append(record.getMessage())

    migration_log = logging.getLogger("alembic.runtime.migration")
    migration_log.setLevel(logging.INFO)
    migration_log.addHandler(Collect())
    barrier.wait(timeout=60)
    with BattleLog(url) as log:
        results.put((log.schema_version, upgrades, log.count_battles()))


def test_two_processes_opening_an_old_database_at_once_migrate_it_once(v1_url: str):
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    processes = [spawn.Process(target=open_log, args=(v1_url, barrier, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    seen = [results.get(timeout=5) for _ in processes]
    assert sorted(version for version, _, _ in seen) == [2, 2]
    assert [count for _, _, count in seen] == [10, 10]
    ran = [message for _, upgrades, _ in seen for message in upgrades]
    assert ran == ["Running upgrade 0001 -> 0002, Store schema version 2: the rater's answer "
                   "to the publication terms, per battle."]
    assert stored_revision(v1_url) == "0002"


# ---------------------------------------------------------------------------- the future
@pytest.mark.parametrize(
    ("meta_version", "revision", "message"),
    [
        ("3", "0002", "has battle-log schema version 3, but this arena knows only versions "
                      "up to 2. Upgrade arena"),
        ("2", "0003", r"has battle-log schema version 2 \(migration 0003\), but this arena "
                      "knows only versions up to 2"),
    ],
)  # fmt: skip
def test_a_database_from_a_newer_arena_is_refused_and_left_unchanged(
    v1_url: str, meta_version: str, revision: str, message: str
):
    BattleLog(v1_url).close()
    engine = create_engine(v1_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE arena_meta SET value = :v"), {"v": meta_version})
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()
    before = (raw_rows(v1_url), schema_of(v1_url))
    with pytest.raises(SchemaTooNew, match=message) as refused:
        BattleLog(v1_url)
    assert "it was not changed" in str(refused.value)
    assert (raw_rows(v1_url), schema_of(v1_url)) == before
    assert stored_revision(v1_url) == revision


def test_a_numbered_database_without_its_migration_record_is_refused(tmp_path: Path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as raw:
        raw.executescript((DATA / "vote-log-v1.sqlite.sql").read_text())
        raw.execute("UPDATE arena_meta SET value = '2'")
    with pytest.raises(SchemaError, match="schema version 2 but no record of its migrations"):
        BattleLog(f"sqlite:///{path}")
