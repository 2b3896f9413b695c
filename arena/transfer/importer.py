"""Reading battle files into the vote log: our JSONL and FastChat's clean_battle JSON.

Formats are told apart by the first character: "[" is a JSON list (FastChat's clean_battle
file), "{" is JSON Lines. Each record is then read as ours when it has a `battle_id`, and as
a FastChat clean_battle record otherwise (so FastChat records in JSONL work too).

FastChat records are labelled as they are read (arena.labels.label_record: labels with the
`lang:<ISO 639-1>` label, labeller_version); `language` keeps FastChat's own value ("English")
when the record has one, so that a clean_battle file survives an import and export unchanged,
and is the detected ISO code otherwise. Our own records are stored exactly as exported (the
JSONL round trip is lossless); those from before labels, or from an older labeller, are
(re)labelled by `arena label`.

Two passes over the file, both streaming:
1. validate every record; the first bad one stops the import with "FILE:line N: reason"
   (JSONL, lines count from 1) or "FILE:index N: reason" (JSON list, from 0), before anything
   is written. With skip_invalid, bad records are reported and left out instead.
2. insert the valid records in batches of `batch_size`, one transaction each, skipping
   battle ids already stored: importing a file twice adds nothing. Batches keep each write
   short, so a running arena keeps recording votes during a large import; if the import is
   interrupted, running it again finishes it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from arena.labels import label_record
from arena.record import BattleRecord, InvalidRecord
from arena.store import BattleLog
from arena.store.checks import check_storable
from arena.transfer.fastchat import from_clean_battle, looks_like_clean_battle

_CHUNK = 1 << 20  # characters read at a time from a JSON list


class ImportFailed(ValueError):
    """The file cannot be imported; the message says where and why. Nothing was written."""


@dataclass
class ImportReport:
    """Counts of one import: every record read ends up in exactly one of the other three."""

    read: int = 0
    inserted: int = 0
    already_present: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (
            f"read {self.read}, inserted {self.inserted}, "
            f"already present {self.already_present}, skipped {self.skipped}"
        )


@dataclass
class Entry:
    """One record of the file: where it is, and the record or why it is not one."""

    where: str
    record: BattleRecord | None = None
    problem: str | None = None


def parse_record(data: Any) -> BattleRecord:
    """A storable BattleRecord from one decoded JSON value (ours or FastChat's)."""
    if not isinstance(data, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(data).__name__}")
    if looks_like_clean_battle(data):
        record = from_clean_battle(data)
        labelled = label_record(record)
        record = replace(labelled, language=record.language or labelled.language)
    elif "battle_id" in data:
        unknown = set(data) - set(BattleRecord.__dataclass_fields__)
        if unknown:
            raise InvalidRecord(f"unknown field(s): {', '.join(sorted(unknown))}")
        record = BattleRecord.from_dict(data)
    else:
        raise InvalidRecord(
            "neither an arena battle record (no battle_id) nor a FastChat clean_battle "
            "record (no model_a/model_b)"
        )
    check_storable(record)
    return record


def read_entries(path: Path) -> Iterator[Entry]:
    """Every record of `path`, parsed and checked, in file order."""
    with open(path, encoding="utf-8-sig") as stream:  # -sig: tolerate a byte-order mark
        first = _first_character(stream)
        stream.seek(0)
        if first == "":
            return
        if first == "[":
            yield from _json_list_entries(stream, path)
        elif first == "{":
            yield from _jsonl_entries(stream, path)
        else:
            raise ImportFailed(
                f"{path}: not JSON Lines or a JSON list (it starts with {first!r}); expected "
                "an `arena export --format jsonl` or a FastChat clean_battle file"
            )


def import_file(
    path: Path,
    log: BattleLog,
    *,
    skip_invalid: bool = False,
    batch_size: int = 500,
    on_skip: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import `path` into `log` as described in the module docstring.

    Raises ImportFailed (nothing written) on a missing or unreadable file, or on the first
    invalid record unless `skip_invalid`; then each skipped record's "FILE:line N: reason" is
    passed to `on_skip`.
    """
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if not path.is_file():
        raise ImportFailed(f"{path}: not a file")
    report = ImportReport()
    try:
        for entry in read_entries(path):  # pass 1: validate everything before writing
            report.read += 1
            if entry.problem is None:
                continue
            if not skip_invalid:
                raise ImportFailed(f"{entry.where}: {entry.problem}")
            report.skipped += 1
            if on_skip is not None:
                on_skip(f"{entry.where}: {entry.problem}")
        batch: list[BattleRecord] = []
        for entry in read_entries(path):  # pass 2: write
            if entry.record is None:
                continue
            batch.append(entry.record)
            if len(batch) >= batch_size:
                _write(log, batch, report)
                batch = []
        _write(log, batch, report)
    except UnicodeDecodeError as bad:
        # bad.start counts from the start of the decoder's last chunk, not of the file.
        raise ImportFailed(
            f"{path}: not UTF-8 text ({bad.reason} at byte {_first_bad_byte(path)})"
        ) from None
    return report


def _first_bad_byte(path: Path) -> int:
    """The file offset of the first byte that is not valid UTF-8 (-1 when there is none)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as bad:
                # Bytes of a sequence left over from the previous chunk come first in bad.object.
                return consumed - (len(bad.object) - len(chunk)) + bad.start
            consumed += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as bad:
        return consumed - len(bad.object) + bad.start
    return -1


def _write(log: BattleLog, batch: list[BattleRecord], report: ImportReport) -> None:
    if batch:
        inserted, present = log.record_new_battles(batch)
        report.inserted += inserted
        report.already_present += present


def _first_character(stream: IO[str]) -> str:
    while True:
        chunk = stream.read(4096)
        if not chunk:
            return ""
        stripped = chunk.lstrip("\ufeff \t\r\n")
        if stripped:
            return stripped[0]


def _entry(where: str, data: Any) -> Entry:
    try:
        return Entry(where, record=parse_record(data))
    except InvalidRecord as bad:
        return Entry(where, problem=str(bad))


def _jsonl_entries(stream: IO[str], path: Path) -> Iterator[Entry]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        where = f"{path}:line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as bad:
            yield Entry(where, problem=f"malformed JSON: {bad.msg} (column {bad.colno})")
            continue
        yield _entry(where, data)


class _StreamedJson:
    """A read position in JSON text streamed from a file, refilled as it is consumed."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.decoder = json.JSONDecoder()
        self.buffer = stream.read(_CHUNK).lstrip("\ufeff")
        self.position = 0
        self.at_end = False

    def fill(self, need_more: bool) -> bool:
        """Drop what was consumed and read more; False at end of file."""
        if self.at_end:
            return False
        more = self.stream.read(max(_CHUNK, len(self.buffer)) if need_more else _CHUNK)
        self.buffer = self.buffer[self.position:] + more
        self.position = 0
        self.at_end = not more
        return bool(more)

    def peek(self) -> str:
        """The next character that is not white space ("" at end of file)."""
        while True:
            while (self.position < len(self.buffer)
                   and self.buffer[self.position] in " \t\r\n"):
                self.position += 1
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if not self.fill(False):
                return ""

    def take(self) -> None:
        """Step over the character `peek` returned."""
        self.position += 1

    def decode(self) -> Any:
        """The JSON value that starts here, reading on until it is complete.

        Raises json.JSONDecodeError when the file ends before the value is valid.
        """
        while True:
            try:
                data, self.position = self.decoder.raw_decode(self.buffer, self.position)
                return data
            except json.JSONDecodeError:
                if not self.fill(True):
                    raise


def _json_list_entries(stream: IO[str], path: Path) -> Iterator[Entry]:
    """Elements of a top-level JSON list, decoded one at a time (memory: about one element).

    Malformed JSON inside a list cannot be skipped (where the next element starts is
    unknown), so it fails the import even with skip_invalid.
    """
    text = _StreamedJson(stream)

    def fail(index: int, reason: str) -> ImportFailed:
        return ImportFailed(f"{path}:index {index}: {reason}")

    text.peek()
    text.take()  # the "[" seen by read_entries
    index = 0
    while True:
        character = text.peek()
        if character == "]":
            text.take()
            if text.peek() != "":
                raise fail(index, "malformed JSON: text after the closing ']'")
            return
        if index > 0:
            if character != ",":
                reason = "end of file inside the list" if character == "" else f"{character!r}"
                raise fail(index, f"malformed JSON: expected ',' or ']', found {reason}")
            text.take()
            text.peek()
        elif character == "":
            raise fail(index, "malformed JSON: end of file inside the list")
        try:
            data = text.decode()
        except json.JSONDecodeError as bad:
            raise fail(index, f"malformed JSON: {bad.msg}") from None
        yield _entry(f"{path}:index {index}", data)
        index += 1
