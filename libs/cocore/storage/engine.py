"""Async engines for SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg), and a
blocking SQLite engine for a process's own small file, used from its event loop's thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from ._sqlite import SQLITE_BEGIN, install_sqlite_setup
from ._translate import one_line, translate_statement_error
from .errors import DatabaseUnavailable
from .types import compact_json
from .urls import SQLITE, is_sqlite_memory, parse_database_url, redacted

# A select-list expression that makes PostgreSQL plan every statement of the current
# transaction afresh (and only that transaction's). Writers whose statements are prepared once
# per connection put it in their first statement: the generic plan PostgreSQL caches for
# `key = ANY($1)` while a table is empty is a full scan comparing every row with every key (a
# parameter array is never hashed), and it stays in use as the table grows to millions of rows
# (measured in the exchange: one ~500-id journal lookup took 4.4 s at 30k transfers).
FRESH_PLANS_SQL = "set_config('plan_cache_mode', 'force_custom_plan', true)"


def create_engine(
    url: str | URL,
    *,
    echo: bool = False,
    connect_timeout_s: float = 10.0,
    sqlite_busy_timeout_ms: int = 5000,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout_s: float = 30.0,
    pre_ping: bool = True,
) -> AsyncEngine:
    """An engine for `url`; raises `InvalidDatabaseUrl` now and `StorageError`s on use.

    `pre_ping` (PostgreSQL): test each pooled connection with a round trip before handing it
    out. A latency-bound reader may turn it off and retry a dropped connection itself.

    `sqlite+aiosqlite:///:memory:` is one database shared through one connection (tests only).
    """
    parsed = parse_database_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
    options: dict[str, Any]
    if parsed.drivername == SQLITE:
        options = _sqlite_options(parsed, pool)
    else:
        options = _postgres_options(connect_timeout_s, pool, pre_ping)
    engine = create_async_engine(parsed, echo=echo, json_serializer=compact_json, **options)
    sync_engine = engine.sync_engine
    _install_error_translation(sync_engine, redacted(parsed), connect_timeout_s)
    if parsed.drivername == SQLITE:
        install_sqlite_setup(
            sync_engine,
            file_backed=not is_sqlite_memory(parsed),
            busy_timeout_ms=sqlite_busy_timeout_ms,
        )
    return engine


def create_loop_sqlite_engine(path: Path, *, busy_timeout_ms: int = 2000) -> Engine:
    """One blocking connection to a small SQLite file that only this process writes, for
    statements run in the event loop's own thread: a commit in WAL mode with synchronous=NORMAL
    writes no fsync and takes about 0.1 ms, where the aiosqlite engine spends several thread
    hand-overs (each a wake-up of a sleeping thread) per transaction. Each transaction must be
    short and must not await: nothing else on the loop runs meanwhile. Every transaction
    begins IMMEDIATE (the write lock up front: no upgrade deadlock with another writer)."""
    url = URL.create("sqlite", database=str(path))
    _make_parent_dir(url)
    engine = create_sync_engine(url, poolclass=StaticPool, json_serializer=compact_json)
    _install_error_translation(engine, redacted(url), busy_timeout_ms / 1000)
    install_sqlite_setup(engine, file_backed=True, busy_timeout_ms=busy_timeout_ms)
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def _sqlite_options(url: URL, pool: dict[str, Any]) -> dict[str, Any]:
    if is_sqlite_memory(url):
        # Each connection to :memory: is a new empty database; one shared connection keeps one.
        return {"poolclass": StaticPool}
    _make_parent_dir(url)
    return pool


def _make_parent_dir(url: URL) -> None:
    # The laptop default lives under var/; a missing folder should not stop a first run.
    parent = Path(str(url.database)).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseUnavailable(f"cannot create folder {parent} for SQLite: {e.strerror}") from e


def _postgres_options(timeout_s: float, pool: dict[str, Any], pre_ping: bool) -> dict[str, Any]:
    return {
        **pool,
        # Servers and proxies drop idle connections; check on checkout and recycle hourly.
        "pool_pre_ping": pre_ping,
        "pool_recycle": 3600,
        "connect_args": {
            "timeout": timeout_s,  # bounds TCP connect plus the startup handshake
            "server_settings": {"TimeZone": "UTC", "application_name": "cocore"},
        },
    }


def _install_error_translation(engine: Engine, shown_url: str, timeout_s: float) -> None:
    def do_connect(dialect: Dialect, _rec: Any, cargs: Any, cparams: Any) -> Any:
        # Connect failures (refused, timeout, DNS) are not DBAPI errors, so SQLAlchemy's
        # handle_error never sees them; catching them here covers every way of connecting.
        try:
            return dialect.connect(*cargs, **cparams)
        except TimeoutError as e:
            raise DatabaseUnavailable(
                f"cannot connect to {shown_url}: no answer within {timeout_s:g} s"
            ) from e
        except (OSError, dialect.loaded_dbapi.Error) as e:
            raise DatabaseUnavailable(f"cannot connect to {shown_url}: {one_line(e)}") from e

    event.listen(engine, "do_connect", do_connect)
    event.listen(engine, "handle_error", translate_statement_error)
