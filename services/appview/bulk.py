"""Driver-level SQL for the ingest hot path: one statement per table per batch, texts reused.

SQLAlchemy's per-value bind processing and per-statement compilation were most of the store's
cost, so the writer speaks the driver's own placeholders here, writing values exactly as the
column types would (UTC text on SQLite, aware datetimes on PostgreSQL). Statement texts are
built once per table and dialect, so both drivers' prepared-statement caches keep hitting;
`IN (…)` lists are one bound parameter (a JSON array on SQLite, an array on PostgreSQL); on
PostgreSQL new rows go in by binary COPY and upserts as one statement over column arrays.
SQLAlchemy begins and ends the transaction; in between, statements go straight to the driver
connection: one aiosqlite thread hop each (instead of three or four, each a GIL hand-over),
or one asyncpg call. Driver errors surface as `StoreUnavailable`.
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cocore.storage import UtcDateTime

from .db import Base
from .errors import StoreUnavailable


class Sql:
    """One transaction's connection, speaking its driver's dialect."""

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn, self._driver = conn, driver  # `conn` for SQLAlchemy Core statements
        self.sqlite = conn.dialect.name == "sqlite"
        self.time = sqlite_time if self.sqlite else utc

    @classmethod
    async def begin(cls, session: AsyncSession, first: str) -> tuple[Sql, Sequence[Any]]:
        """Run `first` through SQLAlchemy, which begins the transaction (BEGIN IMMEDIATE on
        SQLite, asyncpg's transaction on PostgreSQL); the rest goes to the driver inside it."""
        conn = await session.connection()
        rows = (await conn.exec_driver_sql(first)).all()
        raw = await conn.get_raw_connection()
        return cls(conn, raw.driver_connection), rows

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Sequence[Any]:
        with _driver_errors():
            if self.sqlite:
                return list(await self._driver.execute_fetchall(sql, params))
            return list(await self._driver.fetch(sql, *params))

    async def many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Run `sql` once per row (an executemany: one prepared statement per call)."""
        for chunk in _chunks(rows):
            with _driver_errors():
                await self._driver.executemany(sql, chunk)

    async def insert(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Run an `insert_sql` / `upsert_sql` / `add_sql` statement for every row: an
        executemany on SQLite, one statement over column arrays on PostgreSQL. `rows` may be
        a generator: it is consumed a chunk at a time, between awaits."""
        if self.sqlite:
            await self.many(sql, rows)
            return
        for chunk in _chunks(rows):
            with _driver_errors():
                await self._driver.execute(sql, *map(list, zip(*chunk, strict=True)))

    async def append(
        self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        """Insert rows no other writer can have added (the caller holds the writer lock): an
        executemany on SQLite, a binary COPY on PostgreSQL, which encodes each value with its
        column's codec (array parameters cost the driver a type check per element: twice the
        client CPU) and which the server writes a page of rows at a time."""
        if self.sqlite:
            await self.many(insert_sql(True, table, columns), rows)
            return
        for chunk in _chunks(rows):
            with _driver_errors():
                await self._driver.copy_records_to_table(table, records=chunk, columns=columns)

    async def select_in(
        self, table: str, columns: Sequence[str], key: str, values: Iterable[str]
    ) -> Sequence[Any]:
        listed = list(values)
        if not listed:
            return []
        sql = _select_in(self.sqlite, table, tuple(columns), key)
        return await self.rows(sql, (self._array(listed),))

    async def delete_in(self, table: str, key: str, values: Iterable[str]) -> None:
        listed = list(values)
        if listed:
            await self.execute(_delete_in(self.sqlite, table, key), (self._array(listed),))

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with _driver_errors():
            if self.sqlite:
                await self._driver.execute(sql, params)
            else:
                await self._driver.execute(sql, *params)

    def parse_time(self, value: Any) -> datetime | None:
        """A time column as read back through the driver: aware UTC."""
        if value is None or isinstance(value, datetime):
            return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def _array(self, values: list[str]) -> Any:
        return json.dumps(values) if self.sqlite else values


# Rows per driver call: bounds the Python work (building rows, the driver encoding them) the
# event loop does between two awaits.
CHUNK_ROWS = 256


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
        yield chunk


@contextmanager
def _driver_errors() -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        first_line = str(e).splitlines()[0][:200] if str(e) else ""
        raise StoreUnavailable(f"index write failed ({type(e).__name__}: {first_line})") from e


def sqlite_time(value: datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME writes: the UTC wall clock, microseconds, no offset."""
    if value.tzinfo is not UTC:
        value = utc(value)
    # (formatted by hand: a third cheaper than isoformat, which also renders the offset)
    return _SQLITE_TIME % (value.year, value.month, value.day, value.hour, value.minute,
                           value.second, value.microsecond)  # fmt: skip


_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.utcoffset() is None:
        raise ValueError("naive datetime refused: the index stores UTC moments")
    return value.astimezone(UTC)


def time_columns(table: Table) -> frozenset[str]:
    return frozenset(n for n, c in table.c.items() if isinstance(c.type, UtcDateTime))


def marks(sqlite: bool, n: int) -> list[str]:
    """The driver's placeholders for `n` parameters, in order."""
    return ["?"] * n if sqlite else [f"${i}" for i in range(1, n + 1)]


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# Only our own table and column names are spliced into SQL text; every value is bound.


def _in(sqlite: bool, key: str) -> str:
    if sqlite:
        return f'"{key}" IN (SELECT value FROM json_each(?))'  # noqa: S608
    # Not `= ANY($1)`: against a small table that is a sequential scan testing every row
    # against the whole array (10 ms for 2,000 tombstones); a semi-join hashes the array or
    # probes the index, whichever the table's size calls for.
    return f'"{key}" IN (SELECT unnest($1::text[]))'


@functools.cache
def _select_in(sqlite: bool, table: str, columns: tuple[str, ...], key: str) -> str:
    return f'SELECT {_quoted(columns)} FROM "{table}" WHERE {_in(sqlite, key)}'  # noqa: S608


@functools.cache
def _delete_in(sqlite: bool, table: str, key: str) -> str:
    return f'DELETE FROM "{table}" WHERE {_in(sqlite, key)}'  # noqa: S608


@functools.cache
def insert_sql(sqlite: bool, table: str, columns: tuple[str, ...]) -> str:
    """A multi-row INSERT (see `Sql.insert`). On PostgreSQL the rows arrive as one array per
    column and the server inserts them in one statement, not one execution per row."""
    if sqlite:
        rows = f"VALUES ({', '.join(marks(sqlite, len(columns)))})"
    else:
        arrays = (f"{mark}::{_pg_type(table, c)}[]" for mark, c in zip(
            marks(sqlite, len(columns)), columns, strict=True))  # fmt: skip
        rows = f"SELECT * FROM unnest({', '.join(arrays)})"  # noqa: S608
    return f'INSERT INTO "{table}" ({_quoted(columns)}) {rows}'


_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]


def _pg_type(table: str, column: str) -> str:
    return str(Base.metadata.tables[table].c[column].type.compile(dialect=_POSTGRES))


@functools.cache
def upsert_sql(
    sqlite: bool,
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    newer: str | None = None,
) -> str:
    """INSERT, or on a key conflict overwrite the other columns — only where the incoming
    `newer` column (a rev: TIDs sort as bytes) is greater than the stored one, when given."""
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    sql = f"{insert_sql(sqlite, table, columns)} ON CONFLICT ({_quoted(key)}) DO UPDATE SET {sets}"
    if newer is not None:
        collate = "" if sqlite else ' COLLATE "C"'  # byte order whatever the database locale
        sql += f' WHERE excluded."{newer}"{collate} > "{table}"."{newer}"{collate}'
    return sql


@functools.cache
def add_sql(sqlite: bool, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """INSERT, or on a key conflict add the other (counter) columns to the stored ones."""
    sets = ", ".join(f'"{c}" = "{table}"."{c}" + excluded."{c}"' for c in columns if c not in key)
    return f"{insert_sql(sqlite, table, columns)} ON CONFLICT ({_quoted(key)}) DO UPDATE SET {sets}"


@functools.cache
def update_sql(sqlite: bool, table: str, columns: tuple[str, ...], key: str) -> str:
    """UPDATE one row by `key`: parameters are the `columns` values, then the key."""
    m = marks(sqlite, len(columns) + 1)
    sets = ", ".join(f'"{c}" = {mark}' for c, mark in zip(columns, m, strict=False))
    return f'UPDATE "{table}" SET {sets} WHERE "{key}" = {m[-1]}'  # noqa: S608
