"""The list queries' pool on PostgreSQL: no pre-ping round trip, and a dropped connection is
retried on a fresh one instead of failing the request."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from cocore.storage import Database, sqlite_url, upgrade
from cocore.storage.urls import plain_postgres_dsn
from services.appview.driver import READ_ATTEMPTS, fetch_all, reads_database
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
