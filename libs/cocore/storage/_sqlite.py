"""SQLite connection set-up: pragmas on each connection; SQLAlchemy, not sqlite3, emits BEGIN."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, event

# Execution option naming the BEGIN flavour; `Database.transaction()` asks for IMMEDIATE.
SQLITE_BEGIN = "cocore_sqlite_begin"
_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}


def install_sqlite_setup(engine: Engine, *, file_backed: bool, busy_timeout_ms: int) -> None:
    """Apply the pragmas to each new connection and emit our own BEGIN for each transaction."""
    pragmas = [f"PRAGMA busy_timeout={int(busy_timeout_ms)}", "PRAGMA foreign_keys=ON"]
    if file_backed:
        # WAL lets readers run beside the one writer; NORMAL is durable enough under WAL.
        pragmas += ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"]

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's legacy mode skips BEGIN before SELECT and DDL, which breaks repeatable
        # reads and transactional migrations; with isolation_level None it emits no BEGIN at all.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "close", _roll_back_before_close)
    event.listen(engine, "close_detached", _roll_back_before_close)


def _roll_back_before_close(dbapi_connection: Any, *_: Any) -> None:
    """End any transaction before the pool closes a connection.

    sqlite3 (Python 3.11) closes with sqlite3_close_v2: while a statement of the connection is
    still held (by a cursor after `executemany`, or one not read to the end), the connection
    lives on with its open transaction and write lock until that cursor is collected. The
    pool closes without a rollback when it discards a connection (a statement cut off by
    cancellation), and the cut-off cursor lives in the exception's traceback: a stopped
    service kept its file write-locked for seconds, and its restart met "database is locked".
    """
    driver = getattr(dbapi_connection, "driver_connection", None)  # aiosqlite.Connection
    if driver is None:  # plain sqlite3, used on its own thread
        with contextlib.suppress(sqlite3.Error):
            dbapi_connection.rollback()
        return
    connection = getattr(driver, "_connection", None)  # its sqlite3 connection
    queue = getattr(driver, "_tx", None)
    if connection is not None and queue is not None:
        # Queued on the connection's own thread ahead of the close that follows (no await:
        # the pool may be closing from garbage collection). SQLAlchemy's aiosqlite dialect
        # queues work the same way.
        queue.put_nowait((None, connection.rollback))


def _on_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    mode = str(options.get(SQLITE_BEGIN, "DEFERRED"))
    if mode not in _BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so two writers
    # never both hold read snapshots and then fail to upgrade — SQLite's deadlock case.
    conn.exec_driver_sql(f"BEGIN {mode}")
