"""Bulk inserts straight to the driver: the ingest hot path skips SQLAlchemy's per-value
bind processing (most of its cost), writing values exactly as the column types would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cocore.storage import UtcDateTime

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DATETIME writes and reads


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (all with the same keys) in one executemany."""
    if not rows:
        return
    names = list(rows[0])
    conn = await session.connection()
    sqlite = conn.dialect.name == "sqlite"
    marks = ["?"] * len(names) if sqlite else [f"${i}" for i in range(1, len(names) + 1)]
    quoted = ", ".join(f'"{n}"' for n in names)
    # Only our own table and column names are spliced in; every value is a bound parameter.
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join(marks)})'  # noqa: S608
    times = {n for n, c in table.c.items() if n in names and isinstance(c.type, UtcDateTime)}
    columns = [(n, n in times) for n in names]
    to_time = _sqlite_time if sqlite else _utc
    await conn.exec_driver_sql(sql, [
        tuple(to_time(r[n]) if is_time and r[n] is not None else r[n] for n, is_time in columns)
        for r in rows
    ])  # fmt: skip


def _sqlite_time(value: datetime) -> str:
    return _utc(value).strftime(_SQLITE_TIME)  # the UTC wall clock, no offset


def _utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.utcoffset() is None:
        raise ValueError("naive datetime refused: the index stores UTC moments")
    return value.astimezone(UTC)
