"""Writing the vote log out: JSONL (lossless: for re-import, drift checks and re-voting),
Parquet (a flat battles table) and FastChat's clean_battle JSON list (for existing Chatbot Arena
tools).

Every format streams: battles are read from the log in batches and written as they come, so
memory stays flat however long the log is. On SQLite the rows are read as stored and each
format's output is built from them directly (arena.store.bulk.iter_raw, arena.transfer.raw),
without a BattleRecord in between; other databases go through BattleRecords. Both paths write
the same bytes (tests/test_transfer_speed.py). JSON is written by orjson: UTF-8, compact.
Output goes to a temporary file next to `out` that replaces it only when the export finished,
so a failed export never leaves half a file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.bulk import RawBattle, iter_raw, reads_raw
from arena.transfer import raw
from arena.transfer.fastchat import to_clean_battle

FORMATS = ("jsonl", "parquet", "fastchat")
# jsonl is the full log (abandoned and failed battles too, which re-import and drift checks
# read); the others are for ratings, which only use votes.
DEFAULT_STATUS = {"jsonl": None, "parquet": "voted", "fastchat": "voted"}


class BattleWriter(Protocol):
    raw_need: str  # what write_raw reads of turns and generations (arena.store.bulk.NEEDS)

    def write(self, record: BattleRecord) -> None: ...
    def write_raw(self, battles: list[RawBattle]) -> None: ...
    def close(self) -> None: ...


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def jsonl_line(record: BattleRecord) -> bytes:
    """One line of the JSONL export (`BattleRecord.to_dict()`, compact UTF-8 JSON, newline):
    the bytes every JSONL writer of the log (this module, the operator's HTTP export) sends."""
    return _dumps(record.to_dict()) + b"\n"


class JsonlBattleWriter:
    """One `BattleRecord.to_dict()` per line, UTF-8."""

    raw_need = "full"

    def __init__(self, path: Path) -> None:
        self._stream: IO[bytes] = open(path, "wb")

    def write(self, record: BattleRecord) -> None:
        self._stream.write(jsonl_line(record))

    def write_raw(self, battles: list[RawBattle]) -> None:
        self._stream.write(b"".join(_dumps(raw.record_dict(b)) + b"\n" for b in battles))

    def close(self) -> None:
        self._stream.close()


class FastChatBattleWriter:
    """A JSON list written one element at a time: "[", elements joined by ",", "]"."""

    raw_need = "turns"

    def __init__(self, path: Path) -> None:
        self._stream: IO[bytes] = open(path, "wb")
        self._count = 0
        self._stream.write(b"[")

    def write(self, record: BattleRecord) -> None:
        self._element(to_clean_battle(record))

    def write_raw(self, battles: list[RawBattle]) -> None:
        for battle in battles:
            self._element(raw.clean_battle(battle))

    def _element(self, clean: dict[str, Any]) -> None:
        self._stream.write((b",\n" if self._count else b"\n") + _dumps(clean))
        self._count += 1

    def close(self) -> None:
        self._stream.write(b"\n]\n")
        self._stream.close()


def _parquet_writer(path: Path) -> BattleWriter:
    from arena.transfer.parquet import ParquetBattleWriter  # pyarrow only when needed

    return ParquetBattleWriter(path)


WRITERS: dict[str, Callable[[Path], BattleWriter]] = {
    "jsonl": JsonlBattleWriter,
    "parquet": _parquet_writer,
    "fastchat": FastChatBattleWriter,
}


def export_battles(
    log: BattleLog,
    fmt: str,
    out: Path,
    *,
    since: datetime | None = None,
    mode: str | None = None,
    status: str | None = None,
    progress: bool | None = None,
) -> int:
    """Write the matching battles of `log` to `out` in format `fmt`; returns how many.

    `status=None` means the format's default (DEFAULT_STATUS); pass "all" for every status.
    `progress=None` shows a progress bar only when stderr is a terminal.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    status = DEFAULT_STATUS[fmt] if status is None else status
    status_filter = None if status == "all" else status
    total = log.count_battles(since=since, mode=mode, status=status_filter)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(handle)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; an export is an ordinary file
    written = 0
    try:
        writer = WRITERS[fmt](Path(temporary))
        try:
            with _progress_bar(total, progress) as bar:
                if reads_raw(log):
                    for batch in iter_raw(log, since=since, mode=mode, status=status_filter,
                                          need=writer.raw_need):
                        writer.write_raw(batch)
                        written += len(batch)
                        bar.update(len(batch))
                else:
                    for record in log.iter_battles(since=since, mode=mode, status=status_filter):
                        writer.write(record)
                        written += 1
                        bar.update(1)
        finally:
            writer.close()
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


def _progress_bar(total: int, show: bool | None):
    from tqdm import tqdm

    visible = sys.stderr.isatty() if show is None else show
    return tqdm(total=total, unit="battle", disable=not visible, file=sys.stderr, leave=False)
