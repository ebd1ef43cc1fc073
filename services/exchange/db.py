"""The exchange's tables: the ledger (accounts, journal, pendings) and the settlement domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cocore.storage import TYPE_ANNOTATION_MAP, BigIntPk, make_metadata

DID = String(2048)
URI = String(8192)
KEY = String(600)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    id: Mapped[str] = mapped_column(KEY, primary_key=True)
    owner: Mapped[str] = mapped_column(DID)
    currency: Mapped[str] = mapped_column(String(8))
    flags: Mapped[int] = mapped_column(Integer)
    debits_pending: Mapped[int] = mapped_column(BigInteger)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_pending: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class LedgerTransfer(Base):
    """The append-only journal; `seq` is its order."""

    __tablename__ = "ledger_transfers"
    seq: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(KEY, unique=True)
    debit_account_id: Mapped[str] = mapped_column(KEY, index=True)
    credit_account_id: Mapped[str] = mapped_column(KEY, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    flags: Mapped[int] = mapped_column(Integer)
    pending_id: Mapped[str | None] = mapped_column(KEY)
    timeout_s: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(URI)
    timestamp: Mapped[datetime]


class LedgerPending(Base):
    """Live state of each pending transfer (a hold): pending until posted, voided or expired."""

    __tablename__ = "ledger_pending"
    transfer_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    debit_account_id: Mapped[str] = mapped_column(KEY)
    credit_account_id: Mapped[str] = mapped_column(KEY)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    timeout_s: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(URI)
    timestamp: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    __table_args__ = (Index("ix_ledger_pending_status_expires_at", "status", "expires_at"),)


class Member(Base):
    """A DID the exchange has granted tokens to (the treasury is never one)."""

    __tablename__ = "members"
    did: Mapped[str] = mapped_column(DID, primary_key=True)
    granted_at: Mapped[datetime]
    grant_amount: Mapped[int] = mapped_column(BigInteger)
    last_refresh_at: Mapped[datetime]
    refreshes: Mapped[int] = mapped_column(Integer)


class Hold(Base):
    """An admission's reservation: which requester, which job (when known), which pending."""

    __tablename__ = "holds"
    id: Mapped[str] = mapped_column(KEY, primary_key=True)  # the pending transfer's id
    requester: Mapped[str] = mapped_column(DID)
    amount: Mapped[int] = mapped_column(BigInteger)
    job_uri: Mapped[str | None] = mapped_column(URI, index=True)
    created_at: Mapped[datetime]


class Settlement(Base):
    """One row per settled receipt (exactly once) and per refund of one."""

    __tablename__ = "settlements"
    uri: Mapped[str] = mapped_column(URI, primary_key=True)  # the settlement record's at-uri
    cid: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # settled | refunded
    receipt_uri: Mapped[str] = mapped_column(URI)
    receipt_cid: Mapped[str] = mapped_column(String(128))
    refund_of: Mapped[str | None] = mapped_column(URI)
    requester: Mapped[str] = mapped_column(DID)
    provider: Mapped[str] = mapped_column(DID)
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    payout: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[datetime]
    policy_uri: Mapped[str] = mapped_column(URI)
    auth_key: Mapped[str] = mapped_column(KEY)
    auth_uri: Mapped[str] = mapped_column(URI)
    auth_cid: Mapped[str] = mapped_column(String(128))
    hold_id: Mapped[str | None] = mapped_column(KEY)
    transfer_id: Mapped[str | None] = mapped_column(KEY)
    created_at: Mapped[datetime]
    __table_args__ = (
        # Exactly once per receipt: a second settled row for the same receipt cannot exist.
        Index(
            "ux_settlements_settled_receipt",
            "receipt_uri",
            unique=True,
            sqlite_where=text("status = 'settled'"),
            postgresql_where=text("status = 'settled'"),
        ),
        Index("ix_settlements_refund_of", "refund_of"),
        Index("ix_settlements_completed_at", "completed_at"),
    )


class Authorization(Base):
    """A payment authorization, keyed by (requester DID, nonce) as it is consumed."""

    __tablename__ = "authorizations"
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    uri: Mapped[str] = mapped_column(URI)
    scope: Mapped[str] = mapped_column(String(16))
    budget: Mapped[int | None] = mapped_column(BigInteger)
    charged: Mapped[int] = mapped_column(BigInteger)
    uses: Mapped[int] = mapped_column(Integer)


class Outbox(Base):
    """Records to publish, written in the transaction that caused them; `seq` is their order."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(317))
    rkey: Mapped[str] = mapped_column(String(512))
    uri: Mapped[str] = mapped_column(URI, index=True)
    cid: Mapped[str] = mapped_column(String(128))
    record: Mapped[str] = mapped_column(Text)  # compact JSON, exactly what is published
    state: Mapped[str] = mapped_column(String(16))  # pending | published | superseded
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    published_cid: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (Index("ix_outbox_state_seq", "state", "seq"),)


class PublishedRecord(Base):
    """Policy and attestation versions the exchange has issued (content hash → strongRef)."""

    __tablename__ = "exchange_records"
    uri: Mapped[str] = mapped_column(URI, primary_key=True)
    collection: Mapped[str] = mapped_column(String(317))
    cid: Mapped[str] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_exchange_records_collection_active", "collection", "active"),)


class PatronagePeriod(Base):
    __tablename__ = "patronage_periods"
    start: Mapped[datetime] = mapped_column(primary_key=True)
    end: Mapped[datetime] = mapped_column(primary_key=True)
    treasury_before: Mapped[int] = mapped_column(BigInteger)
    total_score: Mapped[int] = mapped_column(BigInteger)
    distributed: Mapped[int] = mapped_column(BigInteger)
    recipients: Mapped[int] = mapped_column(Integer)
    policy_uri: Mapped[str] = mapped_column(URI)
    created_at: Mapped[datetime]


class Dispute(Base):
    __tablename__ = "disputes"
    uri: Mapped[str] = mapped_column(URI, primary_key=True)
    settlement_uri: Mapped[str] = mapped_column(URI, index=True)
    status: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str | None] = mapped_column(String(32))
    refund_settlement_uri: Mapped[str | None] = mapped_column(URI)
    record: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Rejection(Base):
    """A receipt the exchange refused, kept visible as unsettled with its finding codes."""

    __tablename__ = "rejections"
    receipt_uri: Mapped[str] = mapped_column(URI, primary_key=True)
    receipt_cid: Mapped[str] = mapped_column(String(128))
    codes: Mapped[list[Any]]
    retryable: Mapped[bool]
    attempts: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class Cursor(Base):
    """Where each receipt source got to (e.g. a PDS firehose's last handled seq)."""

    __tablename__ = "cursors"
    source: Mapped[str] = mapped_column(URI, primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class Identity(Base):
    """The exchange's own DID once known, so a restart does not need the PDS to find it."""

    __tablename__ = "identity"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    did: Mapped[str] = mapped_column(DID)
    handle: Mapped[str] = mapped_column(String(253))
    __table_args__ = (UniqueConstraint("did"),)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


ACCOUNTS = _table(LedgerAccount)
TRANSFERS = _table(LedgerTransfer)
PENDING = _table(LedgerPending)
MEMBERS = _table(Member)
HOLDS = _table(Hold)
SETTLEMENTS = _table(Settlement)
AUTHORIZATIONS = _table(Authorization)
OUTBOX = _table(Outbox)
RECORDS = _table(PublishedRecord)
PERIODS = _table(PatronagePeriod)
DISPUTES = _table(Dispute)
REJECTIONS = _table(Rejection)
CURSORS = _table(Cursor)
IDENTITY = _table(Identity)
