"""Storage errors: one root, each concrete error also in the cocore.errors group callers act on."""

from __future__ import annotations

from cocore.errors import (
    AlreadyExists,
    CocoreError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidInput,
    ResourceExhausted,
    Unavailable,
)


class StorageError(CocoreError):
    """Root of every error `cocore.storage` raises; never raised itself."""

    default_code = "storage_error"


class InvalidDatabaseUrl(StorageError, InvalidInput):
    """The database URL cannot be parsed or names an unsupported backend or driver."""

    default_code = "invalid_database_url"


class InvalidColumnValue(StorageError, InvalidInput):
    """A value cannot be stored in its column (a naive datetime, a non-JSON value…)."""

    default_code = "invalid_column_value"


class DatabaseUnavailable(StorageError, Unavailable):
    """The database cannot be reached or opened (refused, timed out, bad credentials…)."""

    default_code = "database_unavailable"


class TransactionConflict(StorageError, Unavailable):
    """The database is locked or the transaction lost a race; retrying the unit of work may help."""

    default_code = "transaction_conflict"


class DuplicateKey(StorageError, AlreadyExists):
    """An insert or update collided with a unique or primary-key constraint."""

    default_code = "duplicate_key"


class ConstraintViolation(StorageError, FailedPrecondition):
    """A foreign-key, not-null or check constraint refused the write."""

    default_code = "constraint_violation"


class PoolExhausted(StorageError, ResourceExhausted):
    """No pooled connection became free within the pool timeout."""

    default_code = "pool_exhausted"


class QueryTimeout(StorageError, DeadlineExceeded):
    """The server cancelled a statement that ran past its timeout."""

    default_code = "query_timeout"


class MigrationError(StorageError, FailedPrecondition):
    """A schema migration could not run (unknown revision, several heads, broken references…)."""

    default_code = "migration_failed"
