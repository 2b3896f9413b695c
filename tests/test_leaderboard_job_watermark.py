"""The live leaderboard's watermark: votes that commit out of order are counted once, never
missed, on SQLite and on PostgreSQL.

On PostgreSQL a transaction that started first (lower transaction id, so a lower commit key)
commits after a later one; on SQLite a vote with an earlier time commits after the counts
were read. Each update must count every committed vote exactly once, and a board rated from
the incremental counts equals the one `arena ratings --db` gives below the same watermark.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import BASE_TIME, make_battle

from arena.jobs.db_ratings import rate_database
from arena.jobs.live_board import LiveCounts
from arena.store import BattleLog
from arena.store.queries import insert_records
from ratings.options import RatingOptions
from ratings.report import write_output


def battle(number: int, winner: str = "model_a", minutes: int = 0):
    return make_battle(model_a="alpha" if number % 2 else "beta",
                       model_b="beta" if number % 2 else "alpha", winner=winner, turn_count=1,
                       start=BASE_TIME + timedelta(minutes=minutes), battle_id=f"w-{number:03d}")


def counted(counts: LiveCounts) -> int:
    return int(counts.rows["count"].sum()) if counts.rows is not None else 0


def same_board(log: BattleLog, counts: LiveCounts, folder) -> bool:
    """The board of the incremental counts equals a fresh read below the same watermark."""
    from arena.jobs.db_ratings import rate_source

    options = RatingOptions()
    live = rate_source(counts.source(), options, None)
    fresh, _ = rate_database(log, options, below=counts.below)
    write_output(live.boards, None, folder / "live.json")
    write_output(fresh.boards, None, folder / "fresh.json")
    return (folder / "live.json").read_bytes() == (folder / "fresh.json").read_bytes()


def test_a_vote_committed_after_the_counts_were_read_is_counted_once(
        battle_log_url: str, tmp_path):
    """A writer holds an open transaction with a vote while the counts are read (on
    PostgreSQL, one that began before a second writer that commits first): the read does not
    count it, the next one does, and no update counts anything twice."""
    with BattleLog(battle_log_url) as log:
        log.record_battles([battle(n, minutes=10 + n) for n in range(6)])
        counts = LiveCounts()
        counts.update(log)
        assert counted(counts) == 6
        early = log.connections.engine.connect()
        early_txn = early.begin()
        # An earlier time than every counted vote, and (PostgreSQL) the lower transaction id.
        insert_records(early, [battle(100, winner="model_b", minutes=1)])
        if log.connections.engine.dialect.name == "postgresql":
            log.record_battles([battle(101, minutes=50)])  # a later writer commits first
        counts.update(log)
        first = counted(counts)
        early_txn.commit()
        early.close()
        counts.update(log)
        counts.update(log)  # nothing new: nothing counted again
        assert counted(counts) == log.count_battles(status="voted")
        assert first == 6  # the open transaction's vote (and, on PostgreSQL, the later one) waits
        assert same_board(log, counts, tmp_path)


def test_updates_between_many_writes_match_a_fresh_read(battle_log_url: str, tmp_path):
    with BattleLog(battle_log_url) as log:
        counts = LiveCounts()
        for round_ in range(4):
            log.record_battles([battle(10 * round_ + n, winner=("model_a", "tie")[n % 2],
                                       minutes=100 - 10 * round_ - n) for n in range(5)])
            counts.update(log)
        assert counted(counts) == 20
        assert same_board(log, counts, tmp_path)


def test_a_withheld_pool_is_left_out_of_the_counts(tmp_path):
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(url) as log:
        log.record_battles([battle(n) for n in range(5)])
        counts = LiveCounts(withheld=frozenset({"w-001", "w-002"}))
        counts.update(log)
        assert counted(counts) == 3


@pytest.mark.parametrize("reads", [1, 3])
def test_an_empty_log_has_no_counts(reads: int, tmp_path):
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        counts = LiveCounts()
        for _ in range(reads):
            counts.update(log)
        assert counted(counts) == 0 and counts.below == 1
