"""The vote log's service API against real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from factories import make_battle, varied_battles
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from arena.record import InvalidRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog, DuplicateBattle, SchemaTooNew
from arena.store.engine import make_engine
from arena.store.errors import SchemaError


@pytest.fixture
def log(battle_log_url: str):
    with BattleLog(battle_log_url) as opened:
        yield opened


def test_new_sqlite_database_is_created_with_its_directory(tmp_path: Path):
    path = tmp_path / "nested" / "dir" / "arena.db"
    with BattleLog(f"sqlite:///{path}") as log:
        assert log.schema_version == STORE_SCHEMA_VERSION
        assert log.count_battles() == 0
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        stored = raw.execute("SELECT value FROM arena_meta WHERE key='schema_version'").fetchone()
        assert stored == (str(STORE_SCHEMA_VERSION),)


def test_opening_waits_while_another_process_writes_to_an_old_journal_file(tmp_path: Path):
    """Switching a rollback-journal file to WAL while another connection holds its write lock
    makes SQLite answer "locked" at once, without its busy handler: opening retries instead."""
    path = tmp_path / "old.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, lambda: writer.execute("ROLLBACK"))
    release.start()
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()
    finally:
        release.join()
        writer.close()


def test_in_memory_database_works_for_single_threaded_use():
    battle = make_battle()
    with BattleLog("sqlite://") as log:
        log.record_battle(battle)
        assert log.get_battle(battle.battle_id) == battle
        assert [b.battle_id for b in log.iter_battles()] == [battle.battle_id]


def test_every_field_reads_back_exactly(log: BattleLog):
    battles = varied_battles()
    for battle in battles:
        log.record_battle(battle)
    for battle in battles:
        stored = log.get_battle(battle.battle_id)
        assert stored == battle
        assert stored.to_dict() == battle.to_dict()


def test_times_with_other_offsets_come_back_as_the_same_instant_in_utc(log: BattleLog):
    plus_two = timezone(timedelta(hours=2))
    battle = make_battle(started_at=datetime(2026, 5, 1, 14, 0, 0, 1, tzinfo=plus_two))
    log.record_battle(battle)
    stored = log.get_battle(battle.battle_id)
    assert stored.started_at == battle.started_at
    assert stored.started_at.utcoffset() == timedelta(0)
    assert stored.started_at.hour == 12 and stored.started_at.microsecond == 1


def test_recording_a_battle_twice_is_rejected_and_keeps_the_first(log: BattleLog):
    battle = make_battle()
    log.record_battle(battle)
    changed = make_battle(battle_id=battle.battle_id, winner="model_b")
    with pytest.raises(DuplicateBattle, match=battle.battle_id) as raised:
        log.record_battle(changed)
    assert isinstance(raised.value, ValueError)
    assert log.count_battles() == 1
    assert log.get_battle(battle.battle_id).winner == "model_a"


def test_invalid_record_is_refused_and_nothing_is_written(log: BattleLog):
    bad_winner = make_battle()
    bad_winner.winner = "left"
    with pytest.raises(InvalidRecord, match="winner 'left'"):
        log.record_battle(bad_winner)
    wrong_type = make_battle()
    wrong_type.turns[1].generation_b.completion_tokens = "12"
    with pytest.raises(InvalidRecord, match=r"turns\[1\].generation_b.completion_tokens"):
        log.record_battle(wrong_type)
    assert log.count_battles() == 0
    assert not log.has_battle(bad_winner.battle_id)


def rows_of(url: str, battle_id: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows per table that belong to `battle_id`, read on a connection of their own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {table: connection.execute(
                text(f'SELECT COUNT(*) FROM "{table}" WHERE battle_id = :id'), {"id": battle_id}
            ).scalar_one() for table in tables}
    finally:
        engine.dispose()


@pytest.mark.parametrize("write", ["record_battle", "record_battles", "record_new_battles"])
def test_a_write_that_fails_midway_leaves_no_row_behind(battle_log_url: str, write: str):
    """A record's battle, vote and turn rows go in before its generations; when the
    generations cannot be written, the failed transaction takes the earlier rows with it."""
    with BattleLog(battle_log_url) as log:
        kept = make_battle()
        log.record_battle(kept)
        engine = create_engine(battle_log_url)
        with engine.begin() as connection:  # the last table written: the others are done
            connection.execute(text("DROP TABLE generation"))
        engine.dispose()
        failed = make_battle()
        with pytest.raises(DBAPIError, match="generation"):
            {"record_battle": lambda: log.record_battle(failed),
             "record_battles": lambda: log.record_battles([failed]),
             "record_new_battles": lambda: log.record_new_battles([failed])}[write]()
        assert not log.has_battle(failed.battle_id)
        assert log.count_battles() == 1
    tables = ("battle", "vote", "turn")
    assert rows_of(battle_log_url, failed.battle_id, tables) == dict.fromkeys(tables, 0)
    assert rows_of(battle_log_url, kept.battle_id, tables) == {
        "battle": 1, "vote": 1, "turn": len(kept.turns)}


def test_unknown_battle_is_none(log: BattleLog):
    assert log.get_battle("no-such-battle") is None
    assert not log.has_battle("no-such-battle")


def test_iter_battles_streams_in_start_order_with_filters(log: BattleLog):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    battles = [
        make_battle(
            battle_id=f"b{i:02d}",
            start=start + timedelta(hours=i // 2),
            mode="named" if i % 3 == 0 else "anonymous",
            status="abandoned" if i % 4 == 0 else "voted",
            **({"winner": None, "voted_at": None} if i % 4 == 0 else {}),
        )  # fmt: skip
        for i in range(11)
    ]
    for battle in reversed(battles):  # insertion order must not matter
        log.record_battle(battle)

    everything = list(log.iter_battles(batch_size=2))
    assert [b.battle_id for b in everything] == [b.battle_id for b in battles]
    assert everything == battles

    since = start + timedelta(hours=3)
    voted_named_since = [
        b.battle_id
        for b in battles
        if b.started_at >= since and b.mode == "named" and b.status == "voted"
    ]
    got = log.iter_battles(since=since, mode="named", status="voted", batch_size=1)
    assert [b.battle_id for b in got] == voted_named_since
    assert log.count_battles(mode="named", status="voted", since=since) == len(voted_named_since)
    assert log.count_battles(status="abandoned") == 3
    assert log.count_battles() == 11


def test_pair_counts_are_counted_per_shown_pair_with_filters(log: BattleLog):
    for a, b, mode, status in [("x", "y", "anonymous", "voted"), ("x", "y", "anonymous", "voted"),
                               ("y", "x", "anonymous", "voted"), ("x", "z", "named", "voted"),
                               ("x", "z", "anonymous", "abandoned")]:
        log.record_battle(make_battle(model_a=a, model_b=b, mode=mode, status=status))
    assert log.pair_counts(mode="anonymous", status="voted") == {("x", "y"): 2, ("y", "x"): 1}
    assert sum(log.pair_counts().values()) == 5
    log.ping()


def test_iter_battles_refuses_naive_since(log: BattleLog):
    with pytest.raises(ValueError, match="timezone"):
        list(log.iter_battles(since=datetime(2026, 1, 1)))


def test_newer_schema_is_refused_with_a_fix(battle_log_url: str):
    BattleLog(battle_log_url).close()
    engine = create_engine(battle_log_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE arena_meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(SchemaTooNew, match="schema version 99") as raised:
        BattleLog(battle_log_url)
    assert "Upgrade arena" in str(raised.value)
    with engine.connect() as connection:  # refused means untouched
        assert connection.execute(text("SELECT value FROM arena_meta")).scalar() == "99"
    engine.dispose()


def test_database_made_by_something_else_is_refused(tmp_path: Path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE battle (id INTEGER)")
    with pytest.raises(SchemaError, match="not made by arena"):
        BattleLog(f"sqlite:///{path}")


def test_threads_share_one_log(log: BattleLog):
    battles = [make_battle(turn_count=1) for _ in range(80)]
    errors: list[BaseException] = []

    def write(chunk):
        try:
            for battle in chunk:
                log.record_battle(battle)
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(battles[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert log.count_battles() == len(battles)


PROCESSES = 4
RECORDS_PER_PROCESS = 60


def _write_from_process(url: str, worker: int, barrier) -> None:
    log = BattleLog(url)  # every process opens (and may create) the schema at the same time
    barrier.wait()
    for i in range(RECORDS_PER_PROCESS):
        log.record_battle(make_battle(battle_id=f"p{worker}-{i:03d}", turn_count=1))
    log.close()


def test_concurrent_writers_in_four_processes_all_land(battle_log_url: str):
    # fork: separate processes with their own connections, without re-importing everything.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_write_from_process, args=(battle_log_url, w, barrier))
        for w in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    with BattleLog(battle_log_url) as log:
        assert log.count_battles() == PROCESSES * RECORDS_PER_PROCESS
        assert log.has_battle(f"p3-{RECORDS_PER_PROCESS - 1:03d}")


def _write_after_fork(log: BattleLog, battle_id: str) -> None:
    log.record_battle(make_battle(battle_id=battle_id, turn_count=1))


def test_log_opened_before_a_fork_works_in_the_child(battle_log_url: str):
    with BattleLog(battle_log_url) as log:
        log.record_battle(make_battle(battle_id="parent-before", turn_count=1))
        child = multiprocessing.get_context("fork").Process(
            target=_write_after_fork, args=(log, "child")
        )
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        log.record_battle(make_battle(battle_id="parent-after", turn_count=1))
        assert [log.has_battle(i) for i in ("parent-before", "child", "parent-after")] == [
            True,
            True,
            True,
        ]
