"""The agent's local SQLite tables: the receipt outbox (a PDS blip loses no receipt)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cocore.storage import TYPE_ANNOTATION_MAP, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class OutboxRecord(Base):
    """One record to publish to the provider's own repo at a fixed rkey (so retries are
    idempotent). `state`: held (waiting to learn the job was delivered) → pending → published;
    or failed (the PDS refused it for good)."""

    __tablename__ = "outbox"
    rkey: Mapped[str] = mapped_column(String(64), primary_key=True)
    collection: Mapped[str] = mapped_column(String(317))
    uri: Mapped[str] = mapped_column(String(8192))
    cid: Mapped[str] = mapped_column(String(128))
    record: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),)
