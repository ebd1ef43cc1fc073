"""Alembic wiring: each service keeps migrations/ (env.py + versions/), run from async code.

A service's `migrations/env.py` is::

    from cocore.storage.migrations import run_env
    from services.exchange.models import Base
    run_env(Base.metadata)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, MetaData

from . import types as storage_types
from .engine import create_engine
from .errors import MigrationError

T = TypeVar("T")


def make_alembic_config(
    script_location: str | os.PathLike[str], database_url: str | None = None
) -> Config:
    """An Alembic `Config` for one service's migrations folder, for `alembic.command.*`.

    e.g. `command.revision(make_alembic_config(path, url), autogenerate=True, message="…")`.
    """
    config = Config()
    config.set_main_option("script_location", os.fspath(script_location))
    if database_url is not None:
        # Kept out of the ini options, whose %-interpolation would mangle encoded passwords.
        config.attributes["database_url"] = database_url
    return config


async def upgrade(
    database_url: str, script_location: str | os.PathLike[str], revision: str = "head"
) -> None:
    """Upgrade the database to `revision`; a no-op when it is already there."""
    config = make_alembic_config(script_location, database_url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        _alembic(command.upgrade, config, revision)

    await _with_connection(database_url, run)


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    return await _with_connection(database_url, _current_revision)


def head_revision(script_location: str | os.PathLike[str]) -> str | None:
    """The newest revision in a migrations folder (None when it has none)."""
    config = make_alembic_config(script_location)
    return _alembic(lambda: ScriptDirectory.from_config(config).get_current_head())


def _current_revision(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise MigrationError(f"database is at several heads {sorted(heads)}; merge them first")
    return heads[0] if heads else None


async def _with_connection(database_url: str, fn: Callable[[Connection], T]) -> T:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _alembic(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except CommandError as e:
        raise MigrationError(f"migration failed: {e}") from e


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's env.py: offline SQL, a given connection, or its own engine."""
    config = context.config
    if context.is_offline_mode():
        _run_offline(config, target_metadata)
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, target_metadata)
        return
    url = config.attributes.get("database_url")
    if not url:
        raise MigrationError("no database URL: pass one to make_alembic_config")
    # Only the alembic CLI / command.* from sync code gets here, so no event loop is running.
    asyncio.run(_with_connection(url, lambda conn: _migrate(conn, target_metadata)))


def _run_offline(config: Config, target_metadata: MetaData) -> None:
    url = config.attributes.get("database_url")
    if not url:
        raise MigrationError("offline (--sql) mode needs a database URL for the dialect")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection, target_metadata: MetaData) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild tables; with foreign keys on, dropping a parent table would
        # cascade-delete or fail, so they are off during the run and checked before commit.
        _raw_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,  # SQLite can only ALTER most things by copying the table
            transactional_ddl=True,  # our SQLite BEGIN handling makes DDL transactional too
            compare_type=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        if sqlite:
            _raw_pragma(connection, "PRAGMA foreign_keys=ON")


def _raw_pragma(connection: Connection, pragma: str) -> None:
    # PRAGMA foreign_keys is ignored inside a transaction, and SQLAlchemy would BEGIN first.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(pragma)
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise MigrationError(f"migration left {len(broken)} broken references in {tables}")


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> Literal[False]:
    # Autogenerate writes our column types as `cocore.storage.types.X()`; add their import.
    if kind == "type" and type(obj).__module__ == storage_types.__name__:
        autogen.imports.add(f"import {storage_types.__name__}")
    return False
