"""Column types that make every backend give back exactly what was stored.

`UtcDateTime` stores an instant in UTC and always returns a timezone-aware UTC datetime.
SQLite has no timestamp type: SQLAlchemy writes naive "YYYY-MM-DD HH:MM:SS.ffffff" text, which
sorts chronologically only when every value is in the same zone, hence the conversion to UTC
before binding. Postgres stores TIMESTAMP WITH TIME ZONE and returns it in the session's zone,
hence the conversion back to UTC after loading. Microseconds survive on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, normalised to UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        utc = value.astimezone(UTC)
        # SQLite's DATETIME ignores tzinfo when formatting; pass the naive UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
