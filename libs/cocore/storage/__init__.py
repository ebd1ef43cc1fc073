"""Storage: async SQLAlchemy on SQLite (embedded default) or PostgreSQL, Alembic migrations."""

from .base import NAMING_CONVENTION, TYPE_ANNOTATION_MAP, make_metadata
from .database import Database
from .engine import FRESH_PLANS_SQL, create_engine, create_loop_sqlite_engine
from .errors import (
    ConstraintViolation,
    DatabaseUnavailable,
    DuplicateKey,
    InvalidColumnValue,
    InvalidDatabaseUrl,
    MigrationError,
    PoolExhausted,
    QueryTimeout,
    StorageError,
    TransactionConflict,
)
from .migrations import current_revision, head_revision, make_alembic_config, run_env, upgrade
from .types import BigIntPk, CompactJson, UtcDateTime, compact_json
from .urls import parse_database_url, redacted, sqlite_url

__all__ = [
    "FRESH_PLANS_SQL",
    "NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "BigIntPk",
    "CompactJson",
    "ConstraintViolation",
    "Database",
    "DatabaseUnavailable",
    "DuplicateKey",
    "InvalidColumnValue",
    "InvalidDatabaseUrl",
    "MigrationError",
    "PoolExhausted",
    "QueryTimeout",
    "StorageError",
    "TransactionConflict",
    "UtcDateTime",
    "compact_json",
    "create_engine",
    "create_loop_sqlite_engine",
    "current_revision",
    "head_revision",
    "make_alembic_config",
    "make_metadata",
    "parse_database_url",
    "redacted",
    "run_env",
    "sqlite_url",
    "upgrade",
]
