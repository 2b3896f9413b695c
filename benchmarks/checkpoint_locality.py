"""What battle-id order costs a SQLite vote log at checkpoint time: random vs time-ordered ids.

Builds two logs of `--stored` battles (the vote benchmark's two-turn record shape), one with
random ids (UUID version 4) and one with `arena.ids.new_battle_id` (UUID version 7, ordered by
time), then `--rounds` times: writes `--votes` battles one commit each (one second of votes at
300 votes/s by default) and times the RESTART checkpoint that follows (it copies those pages
into the database file and fsyncs it; writers wait for it). The logs' own checkpoint thread
is off, so each round's checkpoint sees exactly that round's pages. Prints the median and
every round per id order, and the WAL pages each vote wrote. The two orders alternate round by
round, so host noise hits both alike.

    .venv/bin/python benchmarks/checkpoint_locality.py
"""

from __future__ import annotations

import argparse
import copy
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vote_throughput import ready_state

import arena.store.connections as store_log
from arena.battles.state import battle_record, utcnow
from arena.ids import new_battle_id
from arena.record import BattleRecord
from arena.store import BattleLog


class _NoCheckpointer:
    """Stands in for the log's checkpoint thread: this benchmark checkpoints by hand."""

    def __init__(self, *_: object, **__: object) -> None:
        pass

    def close(self) -> None:
        pass


def _templates(count: int) -> list[BattleRecord]:
    return [
        battle_record(ready_state(uuid.uuid4().hex, uuid.uuid4().hex, index),
                      status="voted", winner="tie", voted_at=utcnow())
        for index in range(count)
    ]


def _battles(templates: list[BattleRecord], count: int, make_id: Callable[[], str]
             ) -> list[BattleRecord]:
    made = []
    for index in range(count):
        record = copy.copy(templates[index % len(templates)])
        record.battle_id = make_id()
        made.append(record)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--votes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    store_log.WalCheckpointer = _NoCheckpointer  # type: ignore[assignment, misc]
    templates = _templates(300)
    orders: dict[str, Callable[[], str]] = {
        "random (uuid4)": lambda: uuid.uuid4().hex,
        "time-ordered (uuid7)": new_battle_id,
    }
    with tempfile.TemporaryDirectory() as tmp:
        logs, checkpointers = {}, {}
        for name, make_id in orders.items():
            path = Path(tmp) / f"{len(logs)}.db"
            logs[name] = BattleLog(f"sqlite:///{path}")
            for start in range(0, args.stored, 500):
                logs[name].record_battles(
                    _battles(templates, min(500, args.stored - start), make_id))
            checkpointers[name] = sqlite3.connect(path, isolation_level=None)
            checkpointers[name].execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        times: dict[str, list[float]] = {name: [] for name in orders}
        pages: dict[str, list[int]] = {name: [] for name in orders}
        for _ in range(args.rounds):
            for name, make_id in orders.items():
                for record in _battles(templates, args.votes, make_id):
                    logs[name].record_battles([record])
                began = time.perf_counter()
                _busy, frames, _copied = checkpointers[name].execute(
                    "PRAGMA wal_checkpoint(RESTART)").fetchall()[0]
                times[name].append((time.perf_counter() - began) * 1000)
                pages[name].append(frames)
        for name in orders:
            checkpointers[name].close()
            logs[name].close()
    print(f"{args.stored} battles stored; each round {args.votes} votes, one commit each, "
          "then a RESTART checkpoint")
    print("| battle ids | checkpoint ms, median | every round | WAL pages per vote |")
    print("|---|---:|---|---:|")
    for name in orders:
        print(f"| {name} | {statistics.median(times[name]):.1f} "
              f"| {' '.join(f'{t:.0f}' for t in times[name])} "
              f"| {statistics.median(pages[name]) / args.votes:.1f} |")


if __name__ == "__main__":
    main()
