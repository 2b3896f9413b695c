"""Where verdicts come from and go: the vote log (SQL) or a JSONL file, both resumable.

Sources: the voted battles of a log (`battles_in_log`) or of an exported file
(`battles_in_file`, read with arena.transfer's loaders: our JSONL, or FastChat's
clean_battle), judge verdicts and other modes left out.

Sinks (`VerdictSink`): `present(ids)` says which verdict ids are already stored, so a re-run
asks only for the rest (verdict ids are deterministic: arena.judge.verdict.verdict_id);
`winners(ids)` gives their winners (a panel combines stored member verdicts); `write`
stores new verdicts. `LogSink` writes into the vote log, one short transaction per battle;
`JsonlSink` appends one line per verdict to a JSONL file and flushes it, reading the ids
already there when it opens. A last line cut short by an interruption is dropped on opening,
so the file stays valid JSONL and that verdict is asked again.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.queries import existing_ids, load_records
from arena.transfer.importer import ImportFailed, read_entries

# Blind battles only, by default: in named mode the rater chose the pair (and saw the names),
# so those battles are no sample of the arena's pairs and human boards leave them out too.
JUDGED_MODES = ("anonymous",)


def judgeable(record: BattleRecord, modes: Collection[str] = JUDGED_MODES) -> bool:
    """A voted battle of one of `modes` (never a judge's verdict) with at least one turn."""
    return (record.status == "voted" and record.mode in modes and record.mode != "judge"
            and bool(record.turns))


def battles_in_log(log: BattleLog, modes: Collection[str] = JUDGED_MODES
                   ) -> Iterator[BattleRecord]:
    """The judgeable battles of `log`, mode by mode, each in (started_at, battle_id) order."""
    for mode in modes:
        for record in log.iter_battles(mode=mode, status="voted"):
            if judgeable(record, modes):
                yield record


def count_in_log(log: BattleLog, modes: Collection[str] = JUDGED_MODES) -> int:
    return sum(log.count_battles(mode=mode, status="voted") for mode in modes)


def battles_in_file(path: Path, modes: Collection[str] = JUDGED_MODES
                    ) -> Iterator[BattleRecord]:
    """The judgeable battles of an export. Raises ImportFailed (naming the line) on a record
    that is not a valid battle, or when the file cannot be read."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    for entry in read_entries(path):
        if entry.record is None:
            raise ImportFailed(f"{entry.where}: {entry.problem}")
        if judgeable(entry.record, modes):
            yield entry.record


class VerdictSink(Protocol):
    """Stores verdict records; see the module docstring."""

    where: str

    def present(self, ids: Sequence[str]) -> set[str]: ...

    def winners(self, ids: Sequence[str]) -> dict[str, str]: ...

    def write(self, records: Sequence[BattleRecord]) -> int: ...

    def close(self) -> None: ...


class LogSink:
    """Verdicts into a vote log (which the caller opened and closes)."""

    def __init__(self, log: BattleLog) -> None:
        self.log = log
        self.where = repr(log)

    def present(self, ids: Sequence[str]) -> set[str]:
        with self.log.connections.read() as connection:
            return existing_ids(connection, list(ids))

    def winners(self, ids: Sequence[str]) -> dict[str, str]:
        with self.log.connections.read() as connection:
            records = load_records(connection, list(ids))
        return {record.battle_id: record.winner for record in records if record.winner}

    def write(self, records: Sequence[BattleRecord]) -> int:
        """Store those not yet stored; returns how many were new."""
        inserted, _ = self.log.record_new_battles(records)
        return inserted

    def close(self) -> None:
        pass


class JsonlSink:
    """Verdicts appended to a JSONL file (created with its folder when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._winners: dict[str, str] = {}
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_cut_line(path)
        if path.exists():
            self._read_existing()
        self._stream = open(path, "a", encoding="utf-8")  # closed in close()

    def _read_existing(self) -> None:
        try:
            for entry in read_entries(self.path):
                if entry.record is None:
                    raise ImportFailed(f"{entry.where}: {entry.problem}")
                self._winners[entry.record.battle_id] = entry.record.winner or ""
        except ImportFailed as bad:
            raise ImportFailed(f"cannot resume into {self.path}: {bad}; write to another "
                               "--out file") from None

    def present(self, ids: Sequence[str]) -> set[str]:
        with self._lock:
            return {battle_id for battle_id in ids if battle_id in self._winners}

    def winners(self, ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return {i: self._winners[i] for i in ids if self._winners.get(i)}

    def write(self, records: Sequence[BattleRecord]) -> int:
        written = 0
        with self._lock:
            for record in records:
                if record.battle_id in self._winners:
                    continue
                self._stream.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                self._winners[record.battle_id] = record.winner or ""
                written += 1
            self._stream.flush()
        return written

    def close(self) -> None:
        with self._lock:
            self._stream.close()


def _drop_cut_line(path: Path) -> None:
    """Make `path` end with a whole line: a last line without its newline is kept (newline
    added) when it is a whole JSON value, and dropped when it was cut by an interruption while
    it was being written. Raises ImportFailed, changing nothing, unless the file is JSON
    Lines (a FastChat JSON list, say, must not be appended to)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as stream:
        head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head and not head.startswith(b"{"):
            raise ImportFailed(f"{path}: not a JSON Lines file of verdicts; give --out a new "
                               "file or one an earlier `arena judge --out` wrote")
        size = stream.seek(0, os.SEEK_END)
        position = size
        while position > 0:  # back to the last newline, 64 KiB at a time
            start = max(0, position - (1 << 16))
            stream.seek(start)
            newline = stream.read(position - start).rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        stream.seek(position)
        tail = stream.read()
        if not tail.strip():
            return
        try:
            json.loads(tail)
        except ValueError:
            stream.truncate(position)  # cut short: that verdict is asked again
            return
        stream.write(b"\n")


def merge_logs(out: Path, *, verdicts: Path, file: Path | None = None,
               log: BattleLog | None = None) -> int:
    """Write into `out` (JSONL, replaced) every voted battle of `file` or `log` (humans' and
    judges' alike) and then every verdict of `verdicts` not already among them, so one file
    holds both for the judge report. Returns the records written."""
    if (file is None) == (log is None):
        raise ValueError("give exactly one of file and log")
    records = log.iter_battles(status="voted") if log is not None else (
        entry.record for entry in read_entries(file) if entry.record is not None)
    seen: set[str] = set()
    with open(out, "w", encoding="utf-8") as stream:
        for source in (records, (entry.record for entry in read_entries(verdicts)
                                 if entry.record is not None)):
            for record in source:
                if record.status != "voted" or record.battle_id in seen:
                    continue
                seen.add(record.battle_id)
                stream.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    return len(seen)
