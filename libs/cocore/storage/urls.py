"""Database URLs: parse and normalise to the async drivers, build SQLite URLs, redact passwords."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import InvalidDatabaseUrl

SQLITE = "sqlite+aiosqlite"
POSTGRES = "postgresql+asyncpg"

# Config files and platform env vars often carry the sync scheme (or Heroku's `postgres://`);
# accepting them saves a confusing "greenlet" error, while other drivers are refused outright.
_DRIVERS = {
    "sqlite": SQLITE,
    SQLITE: SQLITE,
    "postgres": POSTGRES,
    "postgresql": POSTGRES,
    POSTGRES: POSTGRES,
}
_EXPECTED = "expected sqlite+aiosqlite:///path or postgresql+asyncpg://user@host:port/dbname"


def parse_database_url(url: str | URL) -> URL:
    """Parse `url` and normalise it to aiosqlite or asyncpg; raise `InvalidDatabaseUrl`."""
    if not isinstance(url, str | URL):
        raise InvalidDatabaseUrl(f"database URL must be a string, got {type(url).__name__}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:
        # Never echo an unparseable URL: it may hold a password in a shape we cannot redact.
        raise InvalidDatabaseUrl(f"not a database URL; {_EXPECTED}") from e
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        scheme = parsed.drivername
        raise InvalidDatabaseUrl(f"unsupported database URL scheme {scheme!r}; {_EXPECTED}")
    parsed = parsed.set(drivername=driver)
    if driver == POSTGRES and not parsed.database:
        raise InvalidDatabaseUrl(f"database URL {redacted(parsed)} names no database; {_EXPECTED}")
    return parsed


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The aiosqlite URL of a database file (made absolute) or of `":memory:"`."""
    if os.fspath(path) == ":memory:":
        return f"{SQLITE}:///:memory:"
    url = URL.create(SQLITE, database=str(Path(path).absolute()))
    return url.render_as_string(hide_password=False)


def is_sqlite_memory(url: URL) -> bool:
    return url.drivername == SQLITE and url.database in (None, "", ":memory:")


def redacted(url: URL) -> str:
    """The URL as text with any password masked, for messages and logs."""
    return url.render_as_string(hide_password=True)


def plain_postgres_dsn(url: str | URL) -> str:
    """The libpq-style DSN (`postgresql://…`) asyncpg itself takes, for tools outside SQLAlchemy."""
    parsed = parse_database_url(url)
    if parsed.drivername != POSTGRES:
        raise InvalidDatabaseUrl(f"not a PostgreSQL URL: {redacted(parsed)}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
