"""Group commit of battle records: batch writes, the raw SQLite rows, the writer thread, the
writer process and the WAL checkpointer, on real SQLite files (and PostgreSQL for batches)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from factories import make_battle, varied_battles

from arena.record import InvalidRecord
from arena.store import BattleLog, DuplicateBattle
from arena.store.group_writer import GroupWriter
from arena.store.log_process import LogProcess, LogProcessDied
from arena.store.queries import battle_t, generation_t, turn_t, vote_t
from arena.store.wal import WalCheckpointer

TABLES = (battle_t, vote_t, turn_t, generation_t)


@pytest.fixture
def log(battle_log_url: str):
    with BattleLog(battle_log_url) as opened:
        yield opened


def _invalid():
    record = make_battle()
    record.winner = "left"
    return record


# ------------------------------------------------------------------------- record_battles
def test_each_record_of_a_batch_gets_its_own_outcome(log: BattleLog):
    stored = make_battle()
    log.record_battle(stored)
    fresh, bad, again = make_battle(), _invalid(), make_battle()
    twin = make_battle(battle_id=again.battle_id, winner="model_b")
    outcomes = log.record_battles(
        [fresh, bad, make_battle(battle_id=stored.battle_id), again, twin])
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], InvalidRecord) and "winner 'left'" in str(outcomes[1])
    assert isinstance(outcomes[2], DuplicateBattle) and outcomes[2].battle_id == stored.battle_id
    assert isinstance(outcomes[4], DuplicateBattle)  # the second of two with one id
    assert log.count_battles() == 3
    assert log.get_battle(fresh.battle_id) == fresh
    assert log.get_battle(again.battle_id).winner == again.winner  # the first one won


def test_a_batch_reads_back_exactly(log: BattleLog):
    battles = varied_battles()
    assert log.record_battles(battles) == [None] * len(battles)
    for battle in battles:
        assert log.get_battle(battle.battle_id) == battle


def test_raw_sqlite_rows_are_byte_identical_to_sqlalchemys(tmp_path: Path, monkeypatch):
    """The fast insert path stores exactly what SQLAlchemy's insert stores."""
    battles = varied_battles()
    fast = tmp_path / "fast.db"
    with BattleLog(f"sqlite:///{fast}") as log:
        log.record_battles(battles)
    slow = tmp_path / "slow.db"
    import arena.store.queries as store_queries

    with BattleLog(f"sqlite:///{slow}") as log:
        def sqlalchemy_insert(connection, table, rows):
            connection.execute(table.insert(), rows)

        monkeypatch.setattr(store_queries, "insert_rows", sqlalchemy_insert)
        log.record_battles(battles)
    for table in TABLES:
        keys = ", ".join(c.name for c in table.primary_key.columns)
        query = f'SELECT * FROM "{table.name}" ORDER BY {keys}'
        with sqlite3.connect(fast) as a, sqlite3.connect(slow) as b:
            rows_a, rows_b = a.execute(query).fetchall(), b.execute(query).fetchall()
        assert rows_a, table.name
        assert rows_a == rows_b, table.name
        # typeof too: the same bytes, stored as the same SQLite type
        types = f'SELECT {", ".join(f"typeof({c.name})" for c in table.columns)} ' \
                f'FROM "{table.name}" ORDER BY {keys}'
        with sqlite3.connect(fast) as a, sqlite3.connect(slow) as b:
            assert a.execute(types).fetchall() == b.execute(types).fetchall()


# -------------------------------------------------------------------------------- GroupWriter
@pytest.mark.asyncio(loop_scope="session")
async def test_concurrent_writes_commit_together_and_each_caller_gets_its_outcome(
    tmp_path: Path,
):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    first_batch_started = threading.Event()
    release = threading.Event()

    def slow_first_batch(records):
        if not first_batch_started.is_set():
            first_batch_started.set()
            release.wait(60)  # everything written meanwhile queues up for the next batch
        return log.record_battles(records)

    writer = GroupWriter(log, sink=slow_first_batch)
    battles = [make_battle() for _ in range(40)]
    duplicate = make_battle(battle_id=battles[5].battle_id)
    first = asyncio.ensure_future(writer.write(battles[0]))
    assert await asyncio.to_thread(first_batch_started.wait, 60)
    rest = [asyncio.ensure_future(writer.write(b)) for b in [*battles[1:], duplicate]]
    # One turn of the loop runs each write up to its first await, which comes after it
    # queued its record: all 40 are queued before the first batch is released.
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    writer.close()
    assert results[:-1] == [None] * 40
    assert isinstance(results[-1], DuplicateBattle)
    assert log.count_battles() == 40
    assert writer.records == 41 and writer.commits == 2  # 1, then the 40 that queued
    log.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_failed_database_fails_every_caller_of_the_batch(tmp_path: Path):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")

    def broken(records):
        raise RuntimeError("disk full")

    writer = GroupWriter(log, sink=broken)
    results = await asyncio.gather(*(writer.write(make_battle()) for _ in range(3)),
                                   return_exceptions=True)
    writer.close()
    assert all(isinstance(r, RuntimeError) and "disk full" in str(r) for r in results)
    log.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_close_writes_what_is_queued(tmp_path: Path):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    writer = GroupWriter(log)
    tasks = [asyncio.ensure_future(writer.write(make_battle())) for _ in range(10)]
    await asyncio.sleep(0)  # one turn of the loop: each write has queued its record
    await asyncio.to_thread(writer.close)
    await asyncio.gather(*tasks)
    assert log.count_battles() == 10
    with pytest.raises(RuntimeError, match="closed"):
        await writer.write(make_battle())
    log.close()


# -------------------------------------------------------------------------------- LogProcess
def voluntary_switches(pid: int) -> int:
    """How often the main thread of process `pid` went to sleep by itself (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no voluntary_ctxt_switches")


async def wait_until_waiting_for_the_lock(pid: int, idle_switches: int) -> None:
    """Return once the writer child `pid` has a request and waits for SQLite's write lock.

    Idle, the child sleeps once on its socket and stays asleep; waiting for the lock, SQLite's
    busy handler sleeps a few milliseconds again and again. So its voluntary context switches
    climbing well past `idle_switches` (read while it was idle) is the wait itself.
    """
    deadline = time.monotonic() + 60
    while voluntary_switches(pid) < idle_switches + 5:
        assert time.monotonic() < deadline, "the writer child never waited for the lock"
        await asyncio.sleep(0.01)  # allowed sleep: poll interval with a deadline


def stored_rows(path: Path, battle_ids: list[str]) -> dict[str, int]:
    """Rows per table that belong to `battle_ids`, read with a plain sqlite3 connection."""
    marks = ", ".join("?" * len(battle_ids))
    with sqlite3.connect(path) as raw:
        return {table.name: raw.execute(
            f'SELECT COUNT(*) FROM "{table.name}" WHERE battle_id IN ({marks})', battle_ids
        ).fetchone()[0] for table in TABLES}


class _WriteLock:
    """Holds SQLite's write lock from another connection, so the writer child's next commit
    waits (busy timeout) until `release`: writes sent meanwhile queue up in the child."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_the_writer_process_reports_each_records_outcome(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    process = LogProcess(url)
    try:
        battle = make_battle()
        await process.write(battle)
        results = await asyncio.gather(
            process.write(make_battle(battle_id=battle.battle_id)), process.write(_invalid()),
            return_exceptions=True)
        assert isinstance(results[0], DuplicateBattle)
        assert results[0].battle_id == battle.battle_id  # survives pickling intact
        assert battle.battle_id in str(results[0])
        assert isinstance(results[1], InvalidRecord) and "winner 'left'" in str(results[1])
        with BattleLog(url) as log:
            assert log.get_battle(battle.battle_id) == battle
            assert log.count_battles() == 1
    finally:
        await process.aclose()
    assert process.pid is None
    with pytest.raises(RuntimeError, match="closed"):
        await process.write(make_battle())


@pytest.mark.asyncio(loop_scope="session")
async def test_a_writer_killed_mid_batch_fails_its_writes_and_the_next_write_starts_another(
    tmp_path: Path,
):
    """Writes in flight when the child dies fail with LogProcessDied, leave no row behind
    (the child was inside its transaction, waiting for the lock), and the next write is
    committed by a new child."""
    path = tmp_path / "arena.db"
    url = f"sqlite:///{path}"
    process = LogProcess(url)
    try:
        await process.write(make_battle())  # connected, and the child idle on its socket
        first_pid = process.pid
        idle = voluntary_switches(first_pid)
        lock = _WriteLock(path)
        lost = [make_battle() for _ in range(3)]
        in_flight = [asyncio.ensure_future(process.write(b)) for b in lost]
        await wait_until_waiting_for_the_lock(first_pid, idle)
        os.kill(first_pid, signal.SIGKILL)
        results = await asyncio.wait_for(
            asyncio.gather(*in_flight, return_exceptions=True), 60)
        assert [type(r) for r in results] == [LogProcessDied] * 3
        assert "ended during a write" in str(results[0])
        lock.release()
        assert stored_rows(path, [b.battle_id for b in lost]) == {
            "battle": 0, "vote": 0, "turn": 0, "generation": 0}
        again = make_battle()
        await process.write(again)  # a new child took over
        assert process.pid not in (None, first_pid)
        with BattleLog(url) as log:
            assert log.get_battle(again.battle_id) == again
            assert log.count_battles() == 2
    finally:
        await process.aclose()


@pytest.mark.asyncio(loop_scope="session")
async def test_writes_queued_in_the_child_commit_together_each_with_its_outcome(tmp_path: Path):
    path = tmp_path / "arena.db"
    process = LogProcess(f"sqlite:///{path}")
    battles = [make_battle() for _ in range(40)]
    duplicate = make_battle(battle_id=battles[5].battle_id)
    try:
        await process.write(make_battle())  # connected, and the child idle on its socket
        idle = voluntary_switches(process.pid)
        lock = _WriteLock(path)
        # Connected, each write sends its request before its first await: one turn of the
        # loop sends all 41 while the child's first commit waits for the lock.
        writes = [asyncio.ensure_future(process.write(b)) for b in [*battles, duplicate]]
        await asyncio.sleep(0)
        await wait_until_waiting_for_the_lock(process.pid, idle)
        cancelled = writes[7]
        cancelled.cancel()  # a caller gone away does not withdraw its record
        lock.release()
        results = await asyncio.gather(*writes, return_exceptions=True)
    finally:
        await process.aclose()
    assert isinstance(results[7], asyncio.CancelledError)
    assert results[:7] + results[8:-1] == [None] * 39
    assert isinstance(results[-1], DuplicateBattle)
    assert process.records == 1 + 41
    # After the first write's commit: one commit takes what arrived before it (it then waits
    # for the lock); the rest arrived meanwhile and share the next one or two (a request
    # split across reads).
    assert 2 <= process.commits <= 1 + 3
    with BattleLog(f"sqlite:///{path}") as log:
        assert log.count_battles() == 1 + 40
        assert log.has_battle(battles[7].battle_id)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_write_from_another_threads_event_loop_is_handed_to_the_writers_loop(
    tmp_path: Path,
):
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    process = LogProcess(url)
    try:
        await process.write(make_battle())  # binds the writer to this loop
        elsewhere = make_battle()
        await asyncio.to_thread(asyncio.run, process.write(elsewhere))
        with BattleLog(url) as log:
            assert log.get_battle(elsewhere.battle_id) == elsewhere
    finally:
        await process.aclose()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_failed_database_fails_every_write_of_the_batch(tmp_path: Path):
    path = tmp_path / "arena.db"
    process = LogProcess(f"sqlite:///{path}")
    try:
        await process.write(make_battle())
        with sqlite3.connect(path) as raw:
            raw.execute("DROP TABLE generation")
        results = await asyncio.gather(*(process.write(make_battle()) for _ in range(3)),
                                       return_exceptions=True)
        assert all(isinstance(r, Exception) and "generation" in str(r) for r in results)
    finally:
        await process.aclose()


def test_the_writer_process_raises_the_error_of_opening_the_log(tmp_path: Path):
    path = tmp_path / "arena.db"
    with BattleLog(f"sqlite:///{path}"):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE arena_meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(Exception, match="999"):
        LogProcess(f"sqlite:///{path}")


# ----------------------------------------------------------------------------- checkpoints
def test_votes_never_checkpoint_themselves_and_the_thread_does(tmp_path: Path, monkeypatch):
    """The writer's connection has automatic checkpoints off; the checkpoint thread runs them
    (its effect under a concurrent stream of votes is measured by the vote benchmark)."""
    import arena.store.connections as store_connections

    made: list[WalCheckpointer] = []

    def quick(path, *, busy_timeout_ms):
        made.append(WalCheckpointer(path, busy_timeout_ms=busy_timeout_ms, interval_s=0.05))
        return made[-1]

    monkeypatch.setattr(store_connections, "WalCheckpointer", quick)
    path = tmp_path / "arena.db"
    log = BattleLog(f"sqlite:///{path}")
    log.record_battles([make_battle() for _ in range(5)])
    with log.connections.write() as writer:
        assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    deadline = time.monotonic() + 10
    while made[0].checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # allowed sleep: poll interval: the thread checkpoints on its own schedule
    assert len(made) == 1 and made[0].checkpoints > 0
    log.close()
    assert not made[0]._thread.is_alive()
    with BattleLog(f"sqlite:///{path}") as reopened:
        assert reopened.count_battles() == 5


def test_a_long_log_is_copied_whole_and_restarted(tmp_path: Path):
    path = tmp_path / "arena.db"
    log = BattleLog(f"sqlite:///{path}")
    log.record_battle(make_battle())  # opens the writer: automatic checkpoints off
    checkpointer = WalCheckpointer(str(path), busy_timeout_ms=1000, interval_s=3600,
                                   restart_frames=100)
    connection = sqlite3.connect(path, isolation_level=None)
    for _ in range(10):
        log.record_battles([make_battle(outputs=["x" * 20_000] * 2) for _ in range(3)])
    frames, copied = checkpointer.checkpoint(connection)
    assert frames >= 100 and copied == frames  # all of it is in the database file now
    log.record_battle(make_battle())
    frames_after, _ = checkpointer.checkpoint(connection)
    assert frames_after < 100  # the next write started the log again from its beginning
    connection.close()
    checkpointer.close()
    log.close()
