"""`Database`: one service's engine plus sessions that commit or roll back as a unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ._sqlite import SQLITE_BEGIN
from .engine import create_engine
from .errors import PoolExhausted, StorageError


class Database:
    """Sessions over one engine. Use `transaction()` for any unit of work that writes.

    PostgreSQL runs READ COMMITTED: a read-modify-write reads with `.with_for_update()`
    (SQLite ignores it; its writers are already serialised by BEGIN IMMEDIATE).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._readers = async_sessionmaker(engine, expire_on_commit=False)
        writer = engine
        if self.dialect == "sqlite":
            writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._writers = async_sessionmaker(writer, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str | URL, **engine_options: Any) -> Self:
        """Build the engine with `create_engine(url, **engine_options)`; connects lazily."""
        return cls(create_engine(url, **engine_options))

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session you commit yourself; anything uncommitted is rolled back on exit."""
        with _storage_errors():
            async with self._readers() as session:
                yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on normal exit, rolled back on an exception.

        On SQLite it starts with BEGIN IMMEDIATE, so concurrent writers queue (up to the busy
        timeout) instead of failing when a read snapshot cannot be upgraded to a write.
        """
        with _storage_errors():
            async with self._writers() as session, session.begin():
                yield session

    async def ping(self) -> None:
        """Round-trip `SELECT 1`; raises `DatabaseUnavailable` when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection (call on shutdown)."""
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.dispose()


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except PoolTimeoutError as e:
        # A pool checkout timeout is not a driver error, so handle_error never sees it.
        raise PoolExhausted("no pooled database connection became free in time") from e
    except StorageError as e:
        # A query cut off by cancellation surfaces from the driver as a lost connection; a
        # task being cancelled must stop, not be told to retry.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from e
        raise
