"""Fast inserts for SQLite: rows bound as SQLAlchemy would bind them, without its per-row cost.

Writing a vote stores about eight rows (battle, vote, turns, generations). Through SQLAlchemy
Core every value of every row passes its type's bind processor and the statement's parameter
construction, a large share of the write's CPU. On SQLite these
processors are simple and fixed, so `insert_rows` applies the same conversions itself, once
per column type, and hands plain tuples to the driver's `executemany`:

    UtcDateTime  -> "YYYY-MM-DD HH:MM:SS.ffffff" of the instant in UTC (SQLAlchemy's SQLite
                    DATETIME storage format, always six fractional digits)
    JSON         -> json.dumps(value) (SQLAlchemy's default serializer; None -> 'null', as
                    SQLAlchemy's JSON type stores it unless none_as_null is set)
    other        -> the value itself (str, int, float, None pass through the sqlite3 driver)

The database cannot tell the two paths apart: `tests/test_group_commit.py` writes the
same records both ways and compares the stored rows byte for byte. Any other backend uses
SQLAlchemy's insert unchanged.

Bulk imports convert rows with `row_values` while they validate a file and bind them later with
`insert_values` (arena.store.bulk), so the conversion is paid once per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Connection, Table

from arena.store.types import UtcDateTime

Converter = Callable[[Any], Any]


def _utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" cut before the zone (isoformat is C, an f-string of
    # seven fields is not; tests/test_group_commit.py compares the bytes with SQLAlchemy's).
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _json_text(value: Any) -> str:
    return json.dumps(value)


def _same(value: Any) -> Any:
    return value


def _converter(column_type: Any) -> Converter:
    if isinstance(column_type, UtcDateTime):
        return _utc_text
    if isinstance(column_type, JSON):
        return _json_text
    return _same


@cache
def _plan(table: Table) -> tuple[str, tuple[str, ...], tuple[Converter, ...]]:
    """The INSERT statement of `table` and, per column, its name and converter."""
    names = tuple(column.name for column in table.columns)
    converters = tuple(_converter(column.type) for column in table.columns)
    quoted = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    return f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', names, converters


def row_values(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """One row of `table` (a dict with a value for every column) as the tuple `insert_values`
    binds: each value converted as SQLAlchemy would convert it for SQLite."""
    _, names, converters = _plan(table)
    return tuple([convert(row[name]) for name, convert in zip(names, converters, strict=True)])


def insert_values(connection: Connection, table: Table, values: Sequence[tuple[Any, ...]]) -> None:
    """INSERT rows already converted by `row_values`, in one executemany."""
    if values:
        connection.exec_driver_sql(_plan(table)[0], list(values))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with a value for every column of `table`) in one executemany."""
    insert_values(connection, table, [row_values(table, row) for row in rows])
