"""The list queries' reads: on PostgreSQL a pool without the pre-ping round trip, a dropped
connection retried on a fresh one instead of failing the request; on SQLite one connection
read in the event loop's thread, falling back to the pool when it cannot serve."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from cocore.storage import Database, sqlite_url, upgrade
from cocore.storage.urls import plain_postgres_dsn
from services.appview.driver import READ_ATTEMPTS, LoopReads, fetch_all, reads_database
from services.appview.errors import StoreUnavailable
from services.appview.server import MIGRATIONS

SQL = "SELECT count(*) FROM receipts WHERE repo = ?"


async def _drop_every_connection(url: str) -> int:
    conn = await asyncpg.connect(plain_postgres_dsn(url))
    try:
        return int(await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))  # fmt: skip
    finally:
        await conn.close()


async def test_reads_survive_the_server_dropping_every_pooled_connection(
    postgres_db_url: str,
) -> None:
    await upgrade(postgres_db_url, MIGRATIONS)
    async with Database.from_url(postgres_db_url) as db:
        reads = reads_database(db, postgres_db_url)
        try:
            assert reads is not db and not reads.engine.sync_engine.pool._pre_ping
            # Three pooled connections, all idle in the pool, then all killed server-side.
            conns = [await reads.engine.connect() for _ in range(3)]
            for c in conns:
                await c.get_raw_connection()
            for c in conns:
                await c.close()
            assert await _drop_every_connection(postgres_db_url) >= 3
            rows = await fetch_all(reads, SQL, ("did:plc:nobody",))
            assert [tuple(r) for r in rows] == [(0,)]
        finally:
            await reads.dispose()


async def test_a_database_that_stays_down_is_reported_not_retried_forever(
    postgres_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(postgres_db_url, MIGRATIONS)
    async with Database.from_url(postgres_db_url, pre_ping=False) as reads:
        calls = 0

        async def refuse(*_: object) -> None:
            nonlocal calls
            calls += 1
            raise asyncpg.exceptions.ConnectionDoesNotExistError("gone")

        monkeypatch.setattr(asyncpg.Connection, "fetch", refuse)
        with pytest.raises(StoreUnavailable, match="ConnectionDoesNotExistError"):
            await fetch_all(reads, SQL, ("did:plc:nobody",))
        assert calls == READ_ATTEMPTS


def test_sqlite_reads_share_the_writers_database(tmp_path: Path) -> None:
    db = Database.from_url(sqlite_url(tmp_path / "a.db"))
    assert reads_database(db, "unused") is db


async def _receipt_count(db: Database, repo: str) -> int:
    async with db.transaction() as s:
        await s.execute(text(
            "INSERT INTO receipts (uri, cid, repo, rkey, rev, indexed_at, body) "
            "VALUES (:uri, 'c', :repo, 'k', 'r', '2026-01-01 00:00:00.000000', x'7b7d')"
        ), {"uri": f"at://{repo}/x/{uuid.uuid4().hex}", "repo": repo})  # fmt: skip
    return int((await fetch_all(db, SQL, (repo,)))[0][0])


async def test_sqlite_list_reads_run_on_the_loop_connection_and_see_each_commit(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "a.db")
    await upgrade(url, MIGRATIONS)
    async with Database.from_url(url) as db:
        reads = LoopReads.of(db)
        assert reads is not None and LoopReads.of(db) is reads
        assert [await _receipt_count(db, "did:plc:a") for _ in range(3)] == [1, 2, 3]
        assert reads.fetch_all(SQL, ("did:plc:a",)) == [(3,)]  # what fetch_all read through
        # Another thread (not the loop's) gets None: its caller reads through the pool.
        assert await asyncio.to_thread(reads.fetch_all, SQL, ("did:plc:a",)) is None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # query-only
            reads._conn.execute("DELETE FROM receipts")
        LoopReads.close(db)
        assert LoopReads.of(db) is not reads
        LoopReads.close(db)


class _Busy:
    """A connection whose every statement finds the file busy (as during WAL recovery)."""

    def execute(self, *_: Any) -> Any:
        e = sqlite3.OperationalError("database is locked")
        e.sqlite_errorcode = sqlite3.SQLITE_BUSY
        raise e


async def test_a_busy_sqlite_file_is_read_through_the_pool_instead(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "a.db")
    await upgrade(url, MIGRATIONS)
    async with Database.from_url(url) as db:
        reads = LoopReads.of(db)
        assert reads is not None
        real, reads._conn = reads._conn, _Busy()  # type: ignore[assignment]
        try:
            assert reads.fetch_all(SQL, ("did:plc:a",)) is None
            assert await _receipt_count(db, "did:plc:a") == 1  # served by the pool
        finally:
            reads._conn = real
            LoopReads.close(db)


def test_an_in_memory_sqlite_database_has_no_loop_reader() -> None:
    assert LoopReads.of(Database.from_url(sqlite_url(":memory:"))) is None
