"""Per-service metadata with stable constraint names, and the type map every service Base uses.

Each service declares its own base, so it owns its own tables and nothing else::

    class Base(DeclarativeBase):
        metadata = make_metadata()
        type_annotation_map = TYPE_ANNOTATION_MAP

(A factory returning the class would read shorter, but mypy refuses a variable as a base class.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.types import TypeEngine

from .types import CompactJson, UtcDateTime

# Explicit names make Alembic autogenerate diffs stable and let migrations drop constraints by
# name on both backends (SQLite otherwise leaves them unnamed, PostgreSQL invents its own).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# `Mapped[datetime]` is always aware UTC; `Mapped[dict[str, Any]]` / `Mapped[list[Any]]` are JSON.
TYPE_ANNOTATION_MAP: dict[Any, TypeEngine[Any]] = {
    datetime: UtcDateTime(),
    dict[str, Any]: CompactJson(),
    list[Any]: CompactJson(),
}


def make_metadata(schema: str | None = None) -> MetaData:
    """A fresh `MetaData` with the cocore naming convention (one per service)."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
