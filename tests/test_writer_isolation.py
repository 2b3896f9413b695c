"""A record the database refuses fails alone: the rest of its group commit is committed.

On PostgreSQL the refused record carries a NUL character in a model's output (PostgreSQL text
cannot hold one); on SQLite, a lone surrogate (text that cannot be encoded to UTF-8, which
SQLite's driver refuses). Both are real refusals of the real databases, through the real
writers: the batch call itself, the writer thread (`GroupWriter`) and the writer process
(`LogProcess`).
"""

from __future__ import annotations

import asyncio

import pytest
from factories import make_battle

from arena.record import BattleRecord, InvalidRecord
from arena.store import BattleLog, DuplicateBattle
from arena.store.group_writer import GroupWriter
from arena.store.log import RecordRefused
from arena.store.log_process import LogProcess

on_the_session_loop = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def log(battle_log_url: str):
    with BattleLog(battle_log_url) as opened:
        yield opened


def refused_battle(url: str) -> BattleRecord:
    """A battle this database refuses: a model output with a NUL (PostgreSQL) or a lone
    surrogate (SQLite), text the service never accepts from a rater but a model may send."""
    bad = "\x00" if url.startswith("postgresql") else "\ud800"
    return make_battle(outputs=[f"fine text, then {bad} and more", "second answer"])


def batch_with_one_refused(url: str) -> tuple[list[BattleRecord], int]:
    records = [make_battle() for _ in range(5)]
    records.insert(2, refused_battle(url))
    return records, 2


def assert_only_the_refused_one_failed(
    log: BattleLog, records: list[BattleRecord], bad: int, outcomes: list
) -> None:
    refused = outcomes[bad]
    assert isinstance(refused, RecordRefused) and isinstance(refused, InvalidRecord)
    assert records[bad].battle_id in str(refused)  # names the battle
    assert [o for i, o in enumerate(outcomes) if i != bad] == [None] * (len(records) - 1)
    assert not log.has_battle(records[bad].battle_id)
    for position, record in enumerate(records):
        if position != bad:
            assert log.get_battle(record.battle_id) == record
    assert log.count_battles() == len(records) - 1


def test_a_batch_with_a_refused_record_commits_the_others(log: BattleLog, battle_log_url: str):
    records, bad = batch_with_one_refused(battle_log_url)
    outcomes = log.record_battles(records)
    assert_only_the_refused_one_failed(log, records, bad, outcomes)


def test_a_refused_record_alone_gets_a_clear_error_and_can_be_refused_again(
    log: BattleLog, battle_log_url: str
):
    bad = refused_battle(battle_log_url)
    first = log.record_battles([bad])
    again = log.record_battles([bad, make_battle()])
    assert isinstance(first[0], RecordRefused) and "refused battle" in str(first[0])
    assert isinstance(again[0], RecordRefused) and again[1] is None
    assert log.count_battles() == 1


def test_duplicates_and_refusals_in_one_batch_each_get_their_own_outcome(
    log: BattleLog, battle_log_url: str
):
    stored = make_battle()
    log.record_battle(stored)
    good, bad = make_battle(), refused_battle(battle_log_url)
    outcomes = log.record_battles([good, make_battle(battle_id=stored.battle_id), bad])
    assert outcomes[0] is None
    assert isinstance(outcomes[1], DuplicateBattle)
    assert isinstance(outcomes[2], RecordRefused)
    assert log.count_battles() == 2


async def write_all(writer, records: list[BattleRecord]) -> list[BaseException | None]:
    """Write every record at once (so they queue up together); each caller's outcome."""
    results = await asyncio.gather(*(writer.write(r) for r in records), return_exceptions=True)
    return list(results)


@on_the_session_loop
async def test_the_writer_thread_fails_only_the_refused_callers_write(
    log: BattleLog, battle_log_url: str
):
    writer = GroupWriter(log)
    try:
        records, bad = batch_with_one_refused(battle_log_url)
        outcomes = await write_all(writer, records)
        assert_only_the_refused_one_failed(log, records, bad, outcomes)
        await writer.write(later := make_battle())  # the writer goes on
        assert log.has_battle(later.battle_id)
    finally:
        await writer.aclose()


@on_the_session_loop
async def test_the_writer_process_fails_only_the_refused_callers_write(
    log: BattleLog, battle_log_url: str
):
    writer = LogProcess(battle_log_url)
    try:
        records, bad = batch_with_one_refused(battle_log_url)
        outcomes = await write_all(writer, records)
        assert_only_the_refused_one_failed(log, records, bad, outcomes)
        await writer.write(later := make_battle())
        assert log.has_battle(later.battle_id)
    finally:
        await writer.aclose()
