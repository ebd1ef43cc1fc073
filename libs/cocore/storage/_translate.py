"""Map driver exceptions to storage errors with one-line messages; unknown errors pass through."""

from __future__ import annotations

from sqlalchemy.engine import ExceptionContext

from .errors import (
    ConstraintViolation,
    DatabaseUnavailable,
    DuplicateKey,
    QueryTimeout,
    StorageError,
    TransactionConflict,
)

# Whole SQLite result-code families that mean "the file cannot be used", not "your SQL is wrong".
_SQLITE_UNAVAILABLE = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_READONLY")
_SQLITE_UNAVAILABLE_EXACT = ("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_PERM")
_PG_CONFLICT = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_PG_UNAVAILABLE = {"57P01", "57P02", "57P03", "53300", "3D000", "28000", "28P01"}


def one_line(error: BaseException) -> str:
    """The first line of an exception's message (drivers add DETAIL lines that may carry values)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def translate_statement_error(ctx: ExceptionContext) -> StorageError | None:
    """`handle_error` hook body: the storage error for `ctx`, or None to keep SQLAlchemy's."""
    if ctx.is_pre_ping:
        return None  # the pool is about to reconnect; translating would break that
    orig = ctx.original_exception
    if isinstance(orig, StorageError):
        # Raised by one of our column types while binding; SQLAlchemy wrapped it in StatementError.
        return type(orig)(orig.message, code=orig.code, details=orig.details)
    if ctx.is_disconnect:
        return DatabaseUnavailable(f"database connection lost: {one_line(orig)}")
    if ctx.dialect.name == "sqlite":
        return _from_sqlite(orig)
    if ctx.dialect.name == "postgresql":
        return _from_postgres(orig)
    return None


def _from_sqlite(orig: BaseException) -> StorageError | None:
    name = str(getattr(orig, "sqlite_errorname", ""))
    message = one_line(orig)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        where = message.partition(": ")[2]
        return DuplicateKey(f"duplicate key: {message}", details={"constraint": where})
    if name.startswith("SQLITE_CONSTRAINT"):
        return ConstraintViolation(message)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return TransactionConflict(f"{message}: another connection holds the write lock; retry")
    if name.startswith(_SQLITE_UNAVAILABLE) or name in _SQLITE_UNAVAILABLE_EXACT:
        return DatabaseUnavailable(f"SQLite database unusable: {message}")
    return None


def _from_postgres(orig: BaseException) -> StorageError | None:
    state = str(getattr(orig, "sqlstate", "") or "")
    message = one_line(orig)
    # SQLAlchemy's asyncpg adapter chains the asyncpg exception, which names the constraint.
    constraint = getattr(orig.__cause__, "constraint_name", None)
    details = {"constraint": constraint} if constraint else {}
    if state == "23505":  # "duplicate key value violates unique constraint …" (values in DETAIL)
        return DuplicateKey(message, details=details)
    if state.startswith("23"):
        return ConstraintViolation(message, details=details)
    if state in _PG_CONFLICT:
        return TransactionConflict(message)
    if state == "57014":
        return QueryTimeout(message)
    if state.startswith("08") or state in _PG_UNAVAILABLE:
        return DatabaseUnavailable(f"PostgreSQL unavailable: {message}")
    return None
