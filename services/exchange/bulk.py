"""Set-based reads and writes for the writer's batches, fast on PostgreSQL and plain on SQLite.

A batch touches thousands of rows. Rendering thousands of bind parameters (an IN list, an
executemany) costs more CPU than the database spends on them, so on PostgreSQL a batch
passes arrays: `= ANY($1)` for lookups, COPY for inserts, `UPDATE … FROM unnest(…)` for
updates, one round trip each. SQLite runs in-process, where plain statements are cheap; IN
lists go through `json_each` so the statement stays one parameter long.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from cocore.storage import UtcDateTime

_PG_TYPES = ((BigInteger, "bigint"), (Integer, "integer"), (Boolean, "boolean"),
             (UtcDateTime, "timestamptz"), (String, "text"))  # fmt: skip


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def one_of(conn: AsyncConnection, column: Any, values: Collection[str]) -> Any:
    """`column IN values` as a single parameter, however many values there are."""
    keys = sorted(set(values))
    if len(keys) == 1:
        # A point read (a balance, a hold): `= $1` plans as an index lookup even when cached.
        return column == keys[0]
    if is_postgres(conn):
        return column == func.any(bindparam(None, keys, type_=ARRAY(String)))
    listed: Any = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(keys), type_=String))
    )
    return column.in_(listed)


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows of plain columns (text, integers, booleans, timestamps)."""
    if not rows:
        return
    if not is_postgres(conn):
        await conn.execute(insert(table), list(rows))
        return
    columns = [c.name for c in table.columns if c.name in rows[0]]
    await _copy(conn, table, columns, list(map(_getter(itemgetter, columns), rows)))


async def insert_objects(conn: AsyncConnection, table: Table, objects: Sequence[Any]) -> None:
    """Insert slotted dataclass instances whose fields are exactly the table's columns."""
    if not objects:
        return
    names: tuple[str, ...] = type(objects[0]).__slots__
    if not is_postgres(conn):
        await conn.execute(insert(table), [{n: getattr(o, n) for n in names} for o in objects])
        return
    await _copy(conn, table, list(names), list(map(_getter(attrgetter, names), objects)))


def _getter(kind: Any, names: Sequence[str]) -> Any:
    """A C-level row → tuple function (a generator per row costs more than the COPY itself)."""
    get = kind(*names)
    return get if len(names) > 1 else lambda row: (get(row),)


async def _copy(
    conn: AsyncConnection, table: Table, columns: list[str], records: list[tuple[Any, ...]]
) -> None:
    driver = await _driver(conn)
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def update_rows(
    conn: AsyncConnection, table: Table, key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """`UPDATE … WHERE key = …` for many rows; each row has the key and the new values."""
    if not rows:
        return
    names = [c for c in rows[0] if c != key]
    if not is_postgres(conn):
        params = [{"_k": row[key], **{f"_{c}": row[c] for c in names}} for row in rows]
        values: dict[str, Any] = {c: bindparam(f"_{c}") for c in names}
        await conn.execute(
            update(table).where(table.c[key] == bindparam("_k")).values(values), params
        )
        return
    columns = [key, *names]
    casts = ", ".join(f"${i + 1}::{_pg_type(table, c)}[]" for i, c in enumerate(columns))
    assignments = ", ".join(f"{c} = v.{c}" for c in names)
    # Names come from our own table definitions, never from input.
    sql = (f"UPDATE {table.name} AS t SET {assignments} FROM unnest({casts}) "  # noqa: S608
           f"AS v({', '.join(columns)}) WHERE t.{key} = v.{key}")  # fmt: skip
    driver = await _driver(conn)
    await driver.execute(sql, *([row[c] for row in rows] for c in columns))


def _pg_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    return next(name for cls, name in _PG_TYPES if isinstance(kind, cls))


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's, inside the same transaction."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection
