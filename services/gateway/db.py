"""The gateway's tables: accounts (encrypted PDS credentials), API-key hashes, the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cocore.storage import TYPE_ANNOTATION_MAP, BigIntPk, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class AccountRow(Base):
    """A DID the gateway may write for; `credentials` is AES-GCM (nonce ‖ ciphertext)."""

    __tablename__ = "accounts"

    did: Mapped[str] = mapped_column(String(256), primary_key=True)
    handle: Mapped[str] = mapped_column(String(256))
    pds_url: Mapped[str] = mapped_column(String(512))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiKeyRow(Base):
    """One API key: only the SHA-256 of the secret is kept, with its display prefix."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    did: Mapped[str] = mapped_column(String(256), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    budget: Mapped[int | None] = mapped_column(BigInteger)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxRow(Base):
    """A record to write to a requester's repo; its rkey and CID were fixed when queued."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("did", "collection", "rkey"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    did: Mapped[str] = mapped_column(String(256), index=True)
    group_key: Mapped[str] = mapped_column(String(64), index=True)  # records written together
    collection: Mapped[str] = mapped_column(String(128))
    rkey: Mapped[str] = mapped_column(String(64))
    cid: Mapped[str] = mapped_column(String(128))
    record: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))  # pending | published | cancelled
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
