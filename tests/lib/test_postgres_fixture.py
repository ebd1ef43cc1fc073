"""The PostgreSQL fixtures give a real server, and each test its own empty database."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from cocore.storage.urls import plain_postgres_dsn
from tests.fixtures.postgres import PostgresServer


async def _fetch(url: str, sql: str) -> object:
    conn = await asyncpg.connect(plain_postgres_dsn(url), timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_it_is_a_real_postgresql(
    postgres_db_url: str, postgres_server: PostgresServer
) -> None:
    version = str(await _fetch(postgres_db_url, "SHOW server_version"))
    assert version == postgres_server.version
    assert postgres_server.major >= 13  # DROP DATABASE … WITH (FORCE) needs 13+
    assert make_url(postgres_db_url).drivername == "postgresql+asyncpg"
    assert make_url(postgres_db_url).host == "127.0.0.1"


async def test_the_database_is_fresh_and_named_for_this_test(postgres_db_url: str) -> None:
    name = make_url(postgres_db_url).database
    assert name is not None and name.startswith("test_")
    assert await _fetch(postgres_db_url, "SELECT current_database()") == name
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert await _fetch(postgres_db_url, tables) == 0
    # Leave a table behind: the isolation test below must not see it.
    await _fetch(postgres_db_url, "CREATE TABLE leftover (id int)")


async def test_tests_do_not_share_databases(postgres_db_url: str, postgres_url: str) -> None:
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'leftover'"
    assert await _fetch(postgres_db_url, tables) == 0
    assert make_url(postgres_db_url).database != make_url(postgres_url).database


async def test_finished_tests_databases_are_dropped(
    postgres_server: PostgresServer, postgres_db_url: str
) -> None:
    names = await _fetch(
        postgres_server.admin_url,
        "SELECT array_agg(datname::text) FROM pg_database WHERE datname LIKE 'test\\_%'",
    )
    assert names == [make_url(postgres_db_url).database]


def test_tests_using_postgres_are_marked_automatically(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    # No explicit mark here: the plugin adds it, so `-m "not postgres"` deselects this test.
    assert request.node.get_closest_marker("postgres") is not None
