"""SQLite connection set-up: pragmas on each connection; SQLAlchemy, not sqlite3, emits BEGIN."""

from __future__ import annotations

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
