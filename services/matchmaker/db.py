"""The matchmaker's tables: the provider directory shared by every replica."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cocore.storage import TYPE_ANNOTATION_MAP, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class DirectoryRow(Base):
    """Which replica holds a machine's stream, until `lease_expires_at` (renewed while it does).

    `snapshot` carries what other replicas need to pick the machine without a round trip.
    """

    __tablename__ = "provider_directory"

    did: Mapped[str] = mapped_column(String(256), primary_key=True)
    machine_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    replica_id: Mapped[str] = mapped_column(String(128), index=True)
    address: Mapped[str] = mapped_column(String(256))
    lease_expires_at: Mapped[datetime] = mapped_column(index=True)
    snapshot: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
