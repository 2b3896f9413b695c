"""The vote log's Alembic migrations, on SQLite and a real PostgreSQL.

The old databases are the ones in tests/data: vote-log-v1.* (ten battles written by the arena
of the commit before Alembic; make_vote_log_v1.py says how) and vote-log-v2.* (those ten plus
two with the rater's consent, written at store schema version 2; make_vote_log_v2.py) and
vote-log-v3.* (those twelve plus two labelled ones with model states, at version 3;
make_vote_log_v3.py) and vote-log-v4.* (those fourteen plus markdown, regenerated, judged and
token-less battles, at version 4; make_vote_log_v4.py), each loaded from its dump. Each must
upgrade in place keeping every row and value, with the derived columns of version 5 (style
features, generation speeds) backfilled as a fresh write computes them and every vote given a
commit key, then log new battles with their consent, labels, model states, regenerated turns,
reasons and judge verdicts; two processes opening one at once migrate it once; a database from
a newer arena is refused and left as it was.
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
from arena.store.derived import SPEED_COLUMNS, STYLE_COLUMNS
from arena.store.rows import record_to_rows
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
# The battle columns each store schema version added (version 1 had the others).
ADDED_COLUMNS = {
    2: ("publish_consent", "terms_version"),
    3: ("labels", "labeller_version", "model_state_a", "model_state_b"),
    4: ("discarded_turns", "judge"),
    5: STYLE_COLUMNS,
}
# The vote columns each version added.
ADDED_VOTE_COLUMNS = {4: ("reason_tags", "reason_comment"), 5: ("commit_key",)}
# Columns version 5 derives from the record (backfilled, compared with a fresh write's).
DERIVED = {"battle": STYLE_COLUMNS, "generation": SPEED_COLUMNS}
# What an old row holds in each added column after the upgrade (SQLite returns JSON as text).
UPGRADED_VALUE = {"publish_consent": None, "terms_version": None, "labels": "[]",
                  "labeller_version": None, "model_state_a": None, "model_state_b": None,
                  "discarded_turns": "[]", "judge": None, "reason_tags": "[]",
                  "reason_comment": None}
MIGRATION_TITLES = {
    "0002": "Running upgrade 0001 -> 0002, Store schema version 2: the rater's answer to the "
            "publication terms, per battle.",
    "0003": "Running upgrade 0002 -> 0003, Store schema version 3: automatic labels and the "
            "models' lifecycle states, per battle.",
    "0004": "Running upgrade 0003 -> 0004, Store schema version 4: regenerated turns, the "
            "rater's reason, and LLM-judge verdicts.",
    "0005": "Running upgrade 0004 -> 0005, Store schema version 5: stored style features and "
            "speeds, and the vote's commit key.",
}  # fmt: skip
OLD_VERSIONS = (1, 2, 3, 4)
BATTLES = {1: 10, 2: 12, 3: 14, 4: 18}
REVISION_OF = {1: None, 2: "0002", 3: "0003", 4: "0004"}


@pytest.fixture(params=[
    pytest.param((version, backend), id=f"v{version}-{backend}",
                 marks=[pytest.mark.postgres] if backend == "postgres" else [])
    for version in OLD_VERSIONS for backend in ("sqlite", "postgres")
])  # fmt: skip
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of an older store schema version with the battles of tests/data, per backend."""
    version, backend = request.param
    if backend == "sqlite":
        path = tmp_path / f"v{version}.db"
        with sqlite3.connect(path) as raw:
            raw.executescript((DATA / f"vote-log-v{version}.sqlite.sql").read_text())
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    load_postgres_dump(url, (DATA / f"vote-log-v{version}.postgresql.sql").read_text())
    return url


def stored_version(url: str) -> int:
    return int(raw_rows(url)["arena_meta"][0]["value"])


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


def expected_records(version: int) -> list[BattleRecord]:
    lines = (DATA / f"vote-log-v{version}.jsonl").read_text().splitlines()
    return [BattleRecord.from_dict(json.loads(line)) for line in lines]


def added_since(version: int, added: dict[int, tuple[str, ...]] = ADDED_COLUMNS
                ) -> tuple[str, ...]:
    return tuple(c for v, columns in added.items() if v > version for c in columns)


def plain(value: Any) -> Any:
    """A JSON column's value as Python: PostgreSQL's driver decodes it, SQLite returns text."""
    return json.loads(value) if isinstance(value, str) else value


# ------------------------------------------------------------------------- upgrade in place
def test_an_old_database_upgrades_in_place_keeping_every_row_and_value(old_url: str):
    before = raw_rows(old_url)
    version = stored_version(old_url)
    assert len(before["battle"]) == BATTLES[version]
    assert stored_revision(old_url) == REVISION_OF[version]

    with BattleLog(old_url) as log:
        assert log.schema_version == STORE_SCHEMA_VERSION == 5
        records = list(log.iter_battles())

    after = raw_rows(old_url)
    assert after["arena_meta"] == [{"key": "schema_version", "value": "5"}]
    assert stored_revision(old_url) == head_revision() == "0005"
    assert after["turn"] == before["turn"]
    assert [{k: v for k, v in row.items() if k not in SPEED_COLUMNS}
            for row in after["generation"]] == before["generation"]
    assert_derived_columns_as_written(after, expected_records(version))
    assert all(row["commit_key"] is not None for row in after["vote"])
    added_to_votes = added_since(version, ADDED_VOTE_COLUMNS)
    for column in added_to_votes:
        if column == "commit_key":
            continue
        expected = plain(UPGRADED_VALUE[column])
        assert [plain(row[column]) for row in after["vote"]] == [expected] * len(after["vote"])
    assert [{k: v for k, v in row.items() if k not in added_to_votes}
            for row in after["vote"]] == before["vote"]
    added = added_since(version)
    for column in added:
        if column in STYLE_COLUMNS:
            continue
        expected = plain(UPGRADED_VALUE[column])
        assert [plain(row[column]) for row in after["battle"]] == [expected] * len(records)
    old_columns = [{k: v for k, v in row.items() if k not in added} for row in after["battle"]]
    assert old_columns == before["battle"]
    expected_dicts = {r.battle_id: r.to_dict() for r in expected_records(version)}
    assert {r.battle_id: r.to_dict() for r in records} == expected_dicts
    if version < 4:
        assert all(r.discarded_turns == [] and r.judge is None for r in records)
        assert all(r.reason_tags == [] and r.reason_comment is None for r in records)
    if version < 3:
        assert all(r.labels == [] and r.labeller_version is None for r in records)
        assert all(r.model_state_a is None and r.model_state_b is None for r in records)


def test_after_the_upgrade_new_battles_record_consent_labels_and_model_states(old_url: str):
    agreed = replace(make_battle(), battle_id="v3-agreed", publish_consent=True,
                     terms_version="2026-01", labels=["code", "lang:en"],
                     labeller_version="test-1", language="en",
                     model_state_a="preview", model_state_b="active")
    declined = replace(make_battle(), battle_id="v3-declined", publish_consent=False,
                       terms_version="2026-01", model_state_a="retired")
    count = BATTLES[stored_version(old_url)]
    with BattleLog(old_url) as log:
        log.record_battles([agreed, declined])
    with BattleLog(old_url) as log:  # reopened: nothing left to migrate, nothing lost
        assert log.get_battle("v3-agreed") == agreed
        assert log.get_battle("v3-declined") == declined
        old = log.get_battle("v1-battle-01")
        assert old is not None and (old.publish_consent, old.terms_version) == (None, None)
        assert (old.labels, old.labeller_version, old.model_state_a) == ([], None, None)
        assert log.count_battles() == count + 2
    stored = {row["battle_id"]: row for row in raw_rows(old_url)["battle"]}
    assert (stored["v3-agreed"]["publish_consent"], stored["v3-agreed"]["terms_version"]) == (
        True, "2026-01")  # fmt: skip
    assert plain(stored["v3-agreed"]["labels"]) == ["code", "lang:en"]
    assert (stored["v3-agreed"]["model_state_a"], stored["v3-agreed"]["model_state_b"]) == (
        "preview", "active")  # fmt: skip
    assert stored["v3-declined"]["publish_consent"] in (False, 0)
    assert plain(stored["v3-declined"]["labels"]) == []


def test_after_the_upgrade_new_battles_keep_discarded_turns_reasons_and_judge_verdicts(
    old_url: str,
):
    regenerated = make_battle(turn_count=2)
    replaced = make_battle(turn_count=1).turns[0]
    regenerated = replace(regenerated, battle_id="v4-regenerated",
                          discarded_turns=[replace(replaced, index=1)],
                          reason_tags=["better written", "more accurate"],
                          reason_comment="Clearer steps <b>and</b> a check.")
    judged = make_battle(turn_count=1)
    verdict = replace(
        judged, battle_id="v4-verdict", mode="judge", replay_of="v1-battle-01",
        rater_hash="judge:tiny-a",
        judge={"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:00ff",
               "order": "swapped", "raw_output": "A", "choice_logprobs": {"A": -0.1, "B": -2.4},
               "generation": judged.turns[0].generation_a.to_dict(), "panel": None},
    )
    with BattleLog(old_url) as log:
        log.record_battles([regenerated, verdict])
    with BattleLog(old_url) as log:
        assert log.get_battle("v4-regenerated") == regenerated
        assert log.get_battle("v4-verdict") == verdict
    stored = raw_rows(old_url)
    vote = {row["battle_id"]: row for row in stored["vote"]}["v4-regenerated"]
    assert plain(vote["reason_tags"]) == ["better written", "more accurate"]
    battle = {row["battle_id"]: row for row in stored["battle"]}
    assert plain(battle["v4-regenerated"]["discarded_turns"])[0]["index"] == 1
    assert plain(battle["v4-verdict"]["judge"])["order"] == "swapped"


def assert_derived_columns_as_written(stored: dict[str, list[dict[str, Any]]],
                                      records: list[BattleRecord]) -> None:
    """The backfilled style features and speeds equal what writing the record computes."""
    written = [record_to_rows(record) for record in records]
    expected_battles = {rows.battle["battle_id"]: {c: rows.battle[c] for c in STYLE_COLUMNS}
                        for rows in written}
    assert {row["battle_id"]: {c: row[c] for c in STYLE_COLUMNS}
            for row in stored["battle"] if row["battle_id"] in expected_battles
            } == expected_battles
    expected_speeds = {(g["battle_id"], g["position"], g["side"]): {c: g[c] for c in SPEED_COLUMNS}
                       for rows in written for g in rows.generations}
    assert {(g["battle_id"], g["position"], g["side"]): {c: g[c] for c in SPEED_COLUMNS}
            for g in stored["generation"] if g["battle_id"] in {k[0] for k in expected_speeds}
            } == expected_speeds


def test_after_the_upgrade_new_votes_get_growing_commit_keys_and_derived_columns(
    old_url: str,
):
    first, second = make_battle(turn_count=1), make_battle(turn_count=2)
    with BattleLog(old_url) as log:
        log.record_battle(first)
        log.record_battles([second])
    stored = raw_rows(old_url)
    keys = {row["battle_id"]: row["commit_key"] for row in stored["vote"]}
    older = [key for battle_id, key in keys.items()
             if battle_id not in (first.battle_id, second.battle_id)]
    assert keys[first.battle_id] > max(older)
    if old_url.startswith("sqlite"):  # one writer at a time: keys follow commit order
        assert keys[second.battle_id] == keys[first.battle_id] + 1
    else:  # the writing transaction's id
        assert keys[second.battle_id] > keys[first.battle_id]
    assert_derived_columns_as_written(stored, [first, second])


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
    old_url: str, tmp_path: Path, request: pytest.FixtureRequest
):
    fresh_url = (request.getfixturevalue("postgres_url") if old_url.startswith("postgresql")
                 else f"sqlite:///{tmp_path / 'fresh.db'}")
    BattleLog(old_url).close()
    BattleLog(fresh_url).close()
    assert schema_of(old_url) == schema_of(fresh_url)
    assert set(schema_of(old_url)["battle"]["columns"]) >= {
        ("publish_consent", "BOOLEAN", True), ("terms_version", "TEXT", True),
        ("labels", "JSON", False), ("labeller_version", "TEXT", True),
        ("model_state_a", "TEXT", True), ("model_state_b", "TEXT", True),
        ("discarded_turns", "JSON", False), ("judge", "JSON", True)}
    assert set(schema_of(old_url)["vote"]["columns"]) >= {
        ("reason_tags", "JSON", False), ("reason_comment", "TEXT", True),
        ("commit_key", "BIGINT", True)}
    assert ("ix_vote_commit_key", ("commit_key",)) in schema_of(old_url)["vote"]["indexes"]
    assert {c[0] for c in schema_of(old_url)["battle"]["columns"]} >= set(STYLE_COLUMNS)
    assert {c[0] for c in schema_of(old_url)["generation"]["columns"]} >= set(SPEED_COLUMNS)
    # The models in arena/store/tables.py describe exactly what the migrations built.
    models = MetaData()
    for table in TABLES:
        table.to_metadata(models)
    engine = create_engine(old_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, models)
    finally:
        engine.dispose()
    # SQLite's covering indexes for the ratings are the migration's own (r0005: PostgreSQL
    # has no btree on JSON), not the models'.
    sqlite_only = ("ix_battle_rating", "ix_vote_rating", "ix_generation_speed")
    assert [d for d in differences if "alembic_version" not in repr(d)
            and not any(name in repr(d) for name in sqlite_only)] == []
    if old_url.startswith("sqlite"):
        indexes = {name for table in ("battle", "vote", "generation")
                   for name, _ in schema_of(old_url)[table]["indexes"]}
        assert set(sqlite_only) <= indexes


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


def test_two_processes_opening_an_old_database_at_once_migrate_it_once(old_url: str):
    old_version = stored_version(old_url)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    processes = [spawn.Process(target=open_log, args=(old_url, barrier, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    seen = [results.get(timeout=5) for _ in processes]
    assert sorted(version for version, _, _ in seen) == [5, 5]
    assert [count for _, _, count in seen] == [BATTLES[old_version]] * 2
    ran = [message for _, upgrades, _ in seen for message in upgrades]
    assert ran == [MIGRATION_TITLES[r] for r in ("0002", "0003", "0004", "0005")
                   if int(r) > old_version]
    assert stored_revision(old_url) == "0005"


# ---------------------------------------------------------------------------- the future
@pytest.mark.parametrize(
    ("meta_version", "revision", "message"),
    [
        ("6", "0005", "has battle-log schema version 6, but this arena knows only versions "
                      "up to 5. Upgrade arena"),
        ("5", "0006", r"has battle-log schema version 5 \(migration 0006\), but this arena "
                      "knows only versions up to 5"),
    ],
)  # fmt: skip
def test_a_database_from_a_newer_arena_is_refused_and_left_unchanged(
    old_url: str, meta_version: str, revision: str, message: str
):
    BattleLog(old_url).close()
    engine = create_engine(old_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE arena_meta SET value = :v"), {"v": meta_version})
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()
    before = (raw_rows(old_url), schema_of(old_url))
    with pytest.raises(SchemaTooNew, match=message) as refused:
        BattleLog(old_url)
    assert "it was not changed" in str(refused.value)
    assert (raw_rows(old_url), schema_of(old_url)) == before
    assert stored_revision(old_url) == revision


def test_a_numbered_database_without_its_migration_record_is_refused(tmp_path: Path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as raw:
        raw.executescript((DATA / "vote-log-v1.sqlite.sql").read_text())
        raw.execute("UPDATE arena_meta SET value = '2'")
    with pytest.raises(SchemaError, match="schema version 2 but no record of its migrations"):
        BattleLog(f"sqlite:///{path}")
