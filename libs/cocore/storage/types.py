"""Column types that behave the same on SQLite and PostgreSQL: UTC datetimes, big-int keys, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from .errors import InvalidColumnValue

# An autoincrementing 64-bit key: SQLite only autoincrements a column typed exactly INTEGER.
BigIntPk: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time: aware datetimes in, aware UTC datetimes out, naive datetimes refused.

    PostgreSQL stores `timestamptz`; SQLite stores the UTC wall clock as sortable text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UtcDateTime()"  # what autogenerate writes into migrations (no impl arguments)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise InvalidColumnValue(f"expected an aware datetime, got {type(value).__name__}")
        if value.utcoffset() is None:
            raise InvalidColumnValue(
                f"naive datetime {value.isoformat()} refused: give it a timezone (e.g. UTC)"
            )
        utc = value.astimezone(UTC)
        # SQLite's text format has no offset, so only the UTC wall clock may go in.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def compact_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept, string keys only, no NaN: the same text every time."""
    _require_str_keys(value)
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise InvalidColumnValue(f"value cannot be stored as JSON: {e}") from e


def _require_str_keys(value: Any) -> None:
    # json.dumps would turn {1: x} into {"1": x}, so what comes back would differ from what went in.
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidColumnValue(f"JSON object keys must be strings, got {key!r}")
            _require_str_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _require_str_keys(item)


class CompactJson(TypeDecorator[Any]):
    """A JSON document written as `compact_json` text: JSONB on PostgreSQL, JSON text on SQLite.

    Python None is SQL NULL; store JSON null as `sqlalchemy.JSON.NULL`.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "CompactJson()"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None]:
        # Replaces (not wraps) the inner JSON processor, which would serialise a second time.
        def process(value: Any) -> str | None:
            if value is None:
                return None
            if value is JSON.NULL:
                return "null"
            return compact_json(value)

        return process
