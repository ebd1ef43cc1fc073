"""Start-up that fails midway leaves nothing running (a restart must find the file free)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cocore.rpc import RunningServer, ServerConfig, start_server
from cocore.storage import TransactionConflict
from services.appview import server
from services.appview.config import AppViewConfig
from services.appview.httpserver import HttpServer, serve_http
from services.appview.ingest import SourceIngestor
from tests.tasks import tasks_running

UNUSED = "http://127.0.0.1:9"  # nothing is fetched before start-up fails


async def test_a_start_that_fails_midway_stops_what_it_had_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "appview.db"
    grpc_servers: list[RunningServer] = []
    http_servers: list[HttpServer] = []
    cursors_asked: list[str] = []

    async def start_grpc(*args: Any) -> RunningServer:
        grpc_servers.append(await start_server(*args))
        return grpc_servers[-1]

    async def start_http(*args: Any) -> HttpServer:
        http_servers.append(await serve_http(*args))
        return http_servers[-1]

    async def busy(ingestor: SourceIngestor) -> int | None:
        # The first source registers; the second finds the database locked.
        if cursors_asked:
            raise TransactionConflict("database is locked: another connection holds it")
        cursors_asked.append(ingestor.source)
        return await real_cursor(ingestor)

    real_cursor = SourceIngestor.stored_cursor
    monkeypatch.setattr("services.appview.server.start_server", start_grpc)
    monkeypatch.setattr("services.appview.server.serve_http", start_http)
    monkeypatch.setattr(SourceIngestor, "stored_cursor", busy)
    config = AppViewConfig(
        grpc=ServerConfig(port=0, metrics_port=None, grace_s=0),
        database_url=f"sqlite+aiosqlite:///{path}",
        pds_hosts=("http://127.0.0.1:10", "http://127.0.0.1:11"),
        plc_url=UNUSED,
        http_port=0,
        dev=True,
    )
    tasks_before = tasks_running("appview")

    with pytest.raises(TransactionConflict):
        await server.start(config)

    assert cursors_asked and grpc_servers and http_servers  # it failed late, not early
    for port in (grpc_servers[0].port, http_servers[0].port):
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
    assert not tasks_running("appview") - tasks_before, (
        "a task of the failed start is still running"
    )
    # No connection of the failed start holds the file: another writer gets the lock at once.
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
