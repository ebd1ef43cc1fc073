"""Query reads in one driver call, for the latency of the list methods.

An ORM session around one SELECT costs about nine aiosqlite thread hops (begin, cursor,
execute, fetch, close, rollback…), each a GIL hand-over: several milliseconds per request
on a busy host. On PostgreSQL a pooled connection runs the statement with asyncpg's `fetch`.
On SQLite the statement runs in the event loop's own thread, on one plain sqlite3
connection kept for the purpose (see `LoopReads`); one statement outside any explicit
transaction reads one consistent snapshot on both backends.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
from sqlalchemy import event

from cocore.storage import Database
from cocore.storage.urls import is_sqlite_memory

from .errors import StoreUnavailable

# Per SQLite connection (allocated as pages are used): the ingest touches index pages all
# over b-trees of millions of rows, and re-reading them from the OS cost more than parsing.
SQLITE_CACHE_KIB = 64 * 1024
# WAL pages after which a commit checkpoints them into the database file (SQLite's default is
# 1,000, about every commit of a 2,000-event batch): the hot index pages each batch rewrites
# are then copied and synced once per several batches (measured: a sixth less commit CPU and
# a quarter less commit wall time per event). The WAL file grows to about 40 MiB.
SQLITE_CHECKPOINT_PAGES = 10_000


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
    if db.dialect == "sqlite":
        loop_reads = LoopReads.of(db)
        if loop_reads is not None:
            rows = loop_reads.fetch_all(sql, params)
            if rows is not None:
                return rows
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


# The list reads' SQLite connection: its own page cache, and the file mapped (up to SQLite's
# compile-time cap) so that pages re-read after each ingest commit (a commit by another
# connection empties this one's cache) come from the OS page cache without a read call.
LOOP_READ_CACHE_KIB = 64 * 1024
LOOP_READ_MMAP_BYTES = 4 << 30


class LoopReads:
    """SQLite list reads run synchronously in the event loop's thread, on one connection.

    An indexed page of 50 records costs SQLite about 0.3 ms. Through aiosqlite the same read
    takes two thread hops (the statement, then the pool's rollback) and one GIL hand-over
    per row: while the loop is busy with ingest, each hand-over may wait out the
    interpreter's 5 ms switch interval, and a page took 25–50 ms at p99. Here the loop
    thread holds the GIL throughout. A WAL reader never waits for the writer, so nothing
    blocks but the read itself; if SQLite ever reports the file busy (WAL recovery), the
    read goes the pooled way, which waits for it. Queries that scan more than one index
    range (aggregates, counts) stay on the pool.
    """

    _by_db: ClassVar[weakref.WeakKeyDictionary[Database, LoopReads]] = weakref.WeakKeyDictionary()

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._thread = threading.get_ident()
        pragmas = ("query_only=ON", "busy_timeout=0", f"cache_size=-{LOOP_READ_CACHE_KIB}",
                   f"mmap_size={LOOP_READ_MMAP_BYTES}")  # fmt: skip
        for pragma in pragmas:
            self._conn.execute(f"PRAGMA {pragma}")

    @classmethod
    def of(cls, db: Database) -> LoopReads | None:
        """`db`'s loop reader (made on first use); None for an in-memory database, which
        only its one pooled connection can see."""
        reads = cls._by_db.get(db)
        if reads is None:
            url = db.engine.url
            if is_sqlite_memory(url):
                return None
            reads = cls._by_db[db] = cls(str(url.database))
        return reads

    @classmethod
    def close(cls, db: Database) -> None:
        reads = cls._by_db.pop(db, None)
        if reads is not None:
            reads._conn.close()

    def fetch_all(self, sql: str, params: Sequence[Any]) -> list[Any] | None:
        """The rows, or None when SQLite reports the file busy or this is not the thread
        that made the connection (the caller then reads through the pool)."""
        if threading.get_ident() != self._thread:
            return None
        try:
            cursor = self._conn.execute(sql, tuple(params))
            try:
                return cursor.fetchall()  # to the end: the read snapshot ends with it
            finally:
                cursor.close()
        except sqlite3.OperationalError as e:
            # (the primary code: extended ones such as SQLITE_BUSY_RECOVERY carry it)
            if e.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise StoreUnavailable(f"index read failed ({type(e).__name__})") from e
        except sqlite3.Error as e:
            raise StoreUnavailable(f"index read failed ({type(e).__name__})") from e


def tune(db: Database) -> None:
    """AppView settings for each new SQLite connection, on top of the storage defaults (WAL,
    synchronous=NORMAL: a power cut may lose the last commits, cursor included, which the
    firehose then replays; the index is rebuildable from the PDSes in any case)."""
    if db.dialect != "sqlite":
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")

    event.listen(db.engine.sync_engine, "connect", on_connect)


@functools.cache
def postgres_sql(sql: str) -> str:
    """`?` placeholders as `$1`, `$2`…; our SQL holds no `?` anywhere else."""
    parts = sql.split("?")
    return "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], start=1)) + parts[-1]
