"""Query reads in one driver call, for the latency of the list methods.

An ORM session around one SELECT costs about nine aiosqlite thread hops (begin, cursor,
execute, fetch, close, rollback…), each a GIL hand-over: several milliseconds per request
on a busy host. Here a pooled connection runs the statement with aiosqlite's
`execute_fetchall` (one hop) or asyncpg's `fetch`, outside any explicit transaction: one
statement reads one consistent snapshot on both backends.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import event

from cocore.storage import Database

from .errors import StoreUnavailable

# Per SQLite connection (allocated as pages are used): the ingest touches index pages all
# over b-trees of millions of rows, and re-reading them from the OS cost more than parsing.
SQLITE_CACHE_KIB = 64 * 1024


# A PostgreSQL connection the server (or a proxy) has dropped: retried on another one.
_DROPPED = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection left mid-protocol by the drop
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)
# Every pooled connection may have been dropped at once (a server restart): try them all.
READ_ATTEMPTS = 16


def reads_database(db: Database, url: str) -> Database:
    """The pool the list queries read through. On PostgreSQL, a second pool without the
    pre-ping round trip (which doubled a query's latency): `fetch_all` retries a dropped
    connection itself. On SQLite, `db`."""
    if db.dialect == "sqlite":
        return db
    return Database.from_url(url, pre_ping=False)


async def fetch_all(db: Database, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
    """Rows of `sql` (written with `?` placeholders) as tuples / records, in order."""
    dropped = None
    for _ in range(READ_ATTEMPTS):
        try:
            return await _fetch_all(db, sql, params)
        except _Dropped as e:
            dropped = e.__cause__
    raise StoreUnavailable(f"index read failed ({type(dropped).__name__})") from dropped


class _Dropped(Exception):
    pass


async def _fetch_all(db: Database, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
    sqlite = db.dialect == "sqlite"
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            if sqlite:
                return list(await driver.execute_fetchall(sql, tuple(params)))
            return list(await driver.fetch(postgres_sql(sql), *params))
        except _DROPPED as e:
            await conn.invalidate(e)  # the pool discards it and connects anew next time
            raise _Dropped from e
        except (sqlite3.Error, asyncpg.PostgresError) as e:
            raise StoreUnavailable(f"index read failed ({type(e).__name__})") from e


def tune(db: Database) -> None:
    """AppView settings for each new SQLite connection, on top of the storage defaults (WAL,
    synchronous=NORMAL: a power cut may lose the last commits, cursor included, which the
    firehose then replays; the index is rebuildable from the PDSes in any case)."""
    if db.dialect != "sqlite":
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    event.listen(db.engine.sync_engine, "connect", on_connect)


@functools.cache
def postgres_sql(sql: str) -> str:
    """`?` placeholders as `$1`, `$2`…; our SQL holds no `?` anywhere else."""
    parts = sql.split("?")
    return "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], start=1)) + parts[-1]
