"""Reading battle files record by record: JSON Lines, a JSON list (FastChat's clean_battle
file) and Parquet, told apart by their first bytes ("{", "[", "PAR1").

Each record is read as ours when it has a `battle_id`, and as a FastChat clean_battle record
otherwise (so FastChat records in JSONL or Parquet work too); see arena.transfer.importer for
what an import does with them. Every reader streams, so memory is about one record (one batch
of rows for Parquet) whatever the file size:

- JSON Lines: one `orjson.loads` per line. A line orjson refuses is read again with the
  standard library, whose message (and column) the user sees, and which also accepts what
  orjson does not (NaN, integers past 64 bits), so both read the same files.
- JSON list: ijson's C parser (yajl2) yields one element at a time (floats as float).
- Parquet: arena.transfer.parquet_read.

A byte that is not UTF-8 stops the read with "not UTF-8 text (<reason> at byte N)", N counted
from the start of the file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from arena.labels import label_record
from arena.record import BattleRecord, InvalidRecord
from arena.store.checks import check_storable
from arena.transfer.fastchat import from_clean_battle, looks_like_clean_battle
from arena.transfer.parquet_read import (
    clean_battle_row,
    is_parquet,
    parquet_rows,
    record_from_flat_row,
)

BUFFER_BYTES = 1 << 20  # bytes read at a time from a JSON list (and looking for a bad byte)
_BOM = codecs.BOM_UTF8


class ImportFailed(ValueError):
    """The file cannot be imported; the message says where and why. Nothing was written."""


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


@dataclass(frozen=True)
class Unit:
    """One record of a file as read, before it is decoded: a JSONL line ("line", bytes), an
    element of a JSON list ("value", the decoded JSON value) or a Parquet row ("row", a dict).
    Cheap to make and to send to another process; `decode_unit` does the rest."""

    where: str
    kind: str
    data: Any


def read_entries(path: Path, *, buffer_bytes: int = BUFFER_BYTES) -> Iterator[Entry]:
    """Every record of `path`, parsed and checked, in file order (a JSON list is read
    `buffer_bytes` at a time)."""
    for unit in read_units(path, buffer_bytes=buffer_bytes):
        yield decode_unit(unit, path)


def read_units(path: Path, *, buffer_bytes: int = BUFFER_BYTES) -> Iterator[Unit]:
    """Every record of `path` as a Unit, in file order; ImportFailed when the file is not one
    of the formats or its framing is broken (malformed JSON list, damaged Parquet)."""
    with open(path, "rb") as stream:
        head = stream.read(4)
        if is_parquet(head):
            yield from _parquet_units(path)
            return
        stream.seek(len(_BOM) if head.startswith(_BOM) else 0)
        first = _first_character(stream)
        if first == "":
            return
        if first == "[":
            yield from _json_list_units(stream, path, buffer_bytes)
        elif first == "{":
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield Unit(f"{path}:line {number}", "line", line)
        else:
            raise ImportFailed(
                f"{path}: not JSON Lines or a JSON list, nor Parquet (it starts with {first!r}); "
                "expected an `arena export` file or a FastChat clean_battle file"
            )


def decode_unit(unit: Unit, path: Path) -> Entry:
    """The record of `unit` (of the file at `path`), parsed and checked, or its problem."""
    if unit.kind == "line":
        try:
            data = _decode_line(unit.data, path)
        except json.JSONDecodeError as bad:
            return Entry(unit.where, problem=f"malformed JSON: {bad.msg} (column {bad.colno})")
        return _entry(unit.where, data)
    if unit.kind == "value":
        return _entry(unit.where, unit.data)
    if "battle_id" not in unit.data:
        return _entry(unit.where, clean_battle_row(unit.data))
    try:
        record = record_from_flat_row(unit.data)
        check_storable(record)
    except InvalidRecord as bad:
        return Entry(unit.where, problem=str(bad))
    return Entry(unit.where, record=record)


def utf8_failure(path: Path) -> ImportFailed | None:
    """"not UTF-8 text (<reason> at byte N)" for the first byte of `path` that is not UTF-8,
    N counted from the start of the file; None when every byte is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(BUFFER_BYTES):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as bad:
                    # Bytes of a sequence left over from the last chunk come first in bad.object.
                    at = consumed - (len(bad.object) - len(chunk)) + bad.start
                    return ImportFailed(f"{path}: not UTF-8 text ({bad.reason} at byte {at})")
                consumed += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as bad:
        at = consumed - len(bad.object) + bad.start
        return ImportFailed(f"{path}: not UTF-8 text ({bad.reason} at byte {at})")
    return None


def _first_character(stream: IO[bytes]) -> str:
    """The first character that is not white space ("" for an empty file); the stream is
    left where it was."""
    start = stream.tell()
    try:
        while chunk := stream.read(4096):
            stripped = chunk.lstrip(b" \t\r\n")
            if stripped:
                return stripped[:1].decode("latin-1")
        return ""
    finally:
        stream.seek(start)


def _entry(where: str, data: Any) -> Entry:
    try:
        return Entry(where, record=parse_record(data))
    except InvalidRecord as bad:
        return Entry(where, problem=str(bad))


def _decode_line(line: bytes, path: Path) -> Any:
    """The value of one JSONL line; raises JSONDecodeError with the standard library's
    message, or ImportFailed when the file is not UTF-8."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise utf8_failure(path) or ImportFailed(f"{path}: not UTF-8 text") from None
    return json.loads(text)


def _json_list_units(stream: IO[bytes], path: Path, buffer_bytes: int) -> Iterator[Unit]:
    """Elements of a top-level JSON list, decoded one at a time (memory: about one element).

    Malformed JSON inside a list cannot be skipped (where the next element starts is
    unknown), so it fails the import even with skip_invalid.
    """
    index = 0
    try:
        for data in ijson.items(stream, "item", buf_size=buffer_bytes, use_float=True):
            yield Unit(f"{path}:index {index}", "value", data)
            index += 1
    except ijson.JSONError as bad:
        if "UTF8" in str(bad):
            raise utf8_failure(path) or ImportFailed(f"{path}: not UTF-8 text") from None
        raise ImportFailed(f"{path}:index {index}: malformed JSON: {_reason(bad)}") from None


def _reason(error: Exception) -> str:
    """What yajl's message ("parse error: premature EOF\\n <text>\\n (right here) --^")
    means, in the words the user reads."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    reason = first.split(": ", 1)[-1].strip().rstrip(".")
    if reason == "premature EOF" or "Incomplete" in first:
        return "expected ',' or ']', found end of file inside the list"
    if reason == "trailing garbage":
        return "text after the closing ']'"
    return reason


def _parquet_units(path: Path) -> Iterator[Unit]:
    try:
        for index, row in enumerate(parquet_rows(path)):
            yield Unit(f"{path}:row {index}", "row", row)
    except ValueError as bad:
        raise ImportFailed(f"{path}: {bad}") from None
