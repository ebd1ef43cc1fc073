"""The AppView's tables: one per collection with denormalised columns, plus ingest bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.orm import DeclarativeBase

from cocore.lexicon import ids
from cocore.storage import TYPE_ANNOTATION_MAP, BigIntPk, UtcDateTime, make_metadata
from cocore.syntax import Nsid


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def _record_table(name: str, *extra: Column[Any], indexes: Sequence[tuple[str, ...]]) -> Table:
    """A collection's table: the record's address and bytes, then its queryable columns.

    `id` is the local indexing order: keyset cursors page on it (newest first), and it never
    changes when a record is updated, so a page boundary cannot skip or repeat a row.
    """
    table = Table(
        name,
        Base.metadata,
        Column("id", BigIntPk, primary_key=True, autoincrement=True),
        Column("uri", String, nullable=False, unique=True),
        Column("cid", String, nullable=False),
        Column("repo", String, nullable=False),
        Column("rkey", String, nullable=False),
        Column("rev", String, nullable=False),
        Column("indexed_at", UtcDateTime(), nullable=False),
        *extra,
        Column("body", LargeBinary, nullable=False),  # canonical JSON of the record
    )
    for cols in indexes:
        Index(f"ix_{name}_{'_'.join(cols)}", *(table.c[c] for c in cols))
    return table


def _str(name: str) -> Column[Any]:
    return Column(name, String, nullable=True)


def _int(name: str) -> Column[Any]:
    return Column(name, BigInteger, nullable=True)


def _time(name: str) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=True)


def _bool(name: str) -> Column[Any]:
    return Column(name, Boolean, nullable=True)


receipts = _record_table(
    "receipts",
    _str("requester"), _str("job_uri"), _str("attestation_uri"), _str("model"),
    _time("started_at"), _time("completed_at"), _int("latency_ms"),
    _int("price_amount"), _str("price_currency"), _int("tokens_in"), _int("tokens_out"),
    _bool("pro_bono"),
    indexes=[("repo", "id"), ("requester", "id"), ("job_uri", "id"), ("model", "id"),
             ("repo", "requester", "id")],
)  # fmt: skip
jobs = _record_table(
    "jobs", _str("model"), _str("payment_authorization_uri"), _time("created_at"),
    _time("expires_at"),
    indexes=[("repo", "id"), ("payment_authorization_uri",)],
)  # fmt: skip
payment_authorizations = _record_table(
    "payment_authorizations", _str("exchange"), _str("nonce"), _time("expires_at"),
    indexes=[("repo", "id"), ("exchange", "nonce")],
)  # fmt: skip
attestations = _record_table(
    "attestations", _time("attested_at"), _time("expires_at"), indexes=[("repo", "id")]
)
providers = _record_table(
    "providers", _str("trust_level"), _bool("active"), _bool("serving"), _time("created_at"),
    indexes=[("repo", "id")],
)  # fmt: skip
settlements = _record_table(
    "settlements", _str("receipt_uri"), _str("authorization_uri"), _str("requester"),
    _str("status"), _int("amount"), _str("currency"), _time("settled_at"),
    indexes=[("receipt_uri", "id"), ("requester", "id"), ("repo", "id")],
)  # fmt: skip
disputes = _record_table(
    "disputes", _str("settlement_uri"), _str("status"),
    indexes=[("repo", "id"), ("settlement_uri",)],
)  # fmt: skip
exchange_policies = _record_table("exchange_policies", _bool("active"), indexes=[("repo", "id")])
exchange_attestations = _record_table(
    "exchange_attestations", _str("policy_uri"), _str("signing_key_fingerprint"),
    indexes=[("repo", "id")],
)  # fmt: skip
token_grants = _record_table(
    "token_grants", _str("recipient"), _int("amount"), indexes=[("recipient", "id")]
)
token_patronages = _record_table(
    "token_patronages", _str("recipient"), _int("tokens_credited"),
    indexes=[("recipient", "id")],
)  # fmt: skip
terms_acceptances = _record_table("terms_acceptances", _str("exchange"), indexes=[("repo", "id")])
profiles = _record_table(
    "profiles", _str("display_name"), _str("handle"), _str("avatar_url"),
    indexes=[("repo",)],
)  # fmt: skip
friends = _record_table(
    "friends", _str("subject"), _time("created_at"),
    indexes=[("subject", "id"), ("repo", "subject", "id")],
)  # fmt: skip

RECORD_TABLES: dict[Nsid, Table] = {
    ids.COMPUTE_RECEIPT: receipts,
    ids.COMPUTE_JOB: jobs,
    ids.COMPUTE_PAYMENT_AUTHORIZATION: payment_authorizations,
    ids.COMPUTE_ATTESTATION: attestations,
    ids.COMPUTE_PROVIDER: providers,
    ids.COMPUTE_SETTLEMENT: settlements,
    ids.COMPUTE_DISPUTE: disputes,
    ids.COMPUTE_EXCHANGE_POLICY: exchange_policies,
    ids.COMPUTE_EXCHANGE_ATTESTATION: exchange_attestations,
    ids.COMPUTE_TERMS_ACCEPTANCE: terms_acceptances,
    ids.ACCOUNT_TOKEN_GRANT: token_grants,
    ids.ACCOUNT_TOKEN_PATRONAGE: token_patronages,
    ids.ACCOUNT_PROFILE: profiles,
    ids.ACCOUNT_FRIEND: friends,
}
assert set(RECORD_TABLES) == set(ids.RECORD_NSIDS), "every record collection needs a table"

# ---------------------------------------------------------------- ingest bookkeeping

sources = Table(
    "sources",
    Base.metadata,
    Column("name", String, primary_key=True),  # the firehose URL
    Column("cursor", BigInteger, nullable=True),  # last seq whose effects are committed
    Column("discovered", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

repos = Table(
    "repos",
    Base.metadata,
    Column("did", String, primary_key=True),
    Column("handle", String, nullable=True),
    Column("source", String, nullable=True),  # where it was first seen (backfill asks there)
    Column("active", Boolean, nullable=False),
    Column("status", String, nullable=True),
    Column("backfill", String, nullable=False),  # "pending" | "done"
    Column("backfill_rev", String, nullable=True),
    Column("backfill_attempts", Integer, nullable=False, default=0),
    Column("backfill_retry_at", UtcDateTime(), nullable=True),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_activity_at", UtcDateTime(), nullable=False),
    Column("job_count", BigInteger, nullable=False, default=0),
    Column("receipt_count", BigInteger, nullable=False, default=0),
    Column("provider_count", BigInteger, nullable=False, default=0),
    Index("ix_repos_backfill", "backfill"),
    Index("ix_repos_last_activity_at_did", "last_activity_at", "did"),
    Index("ix_repos_first_seen_at_did", "first_seen_at", "did"),
)


def new_repo_row(did: str, source: str | None, now: datetime) -> dict[str, Any]:
    """A repo seen for the first time: active, waiting for its backfill."""
    return {"did": did, "source": source, "active": True, "backfill": "pending",
            "backfill_attempts": 0, "first_seen_at": now, "last_activity_at": now,
            "job_count": 0, "receipt_count": 0, "provider_count": 0}  # fmt: skip


# The newest revision at which each deleted record was deleted, so a stale replay of an
# older create cannot bring it back.
tombstones = Table(
    "tombstones",
    Base.metadata,
    Column("uri", String, primary_key=True),
    Column("rev", String, nullable=False),
)

# Why the latest version of a record was not indexed (one row per URI, replaced each time).
rejections = Table(
    "rejections",
    Base.metadata,
    Column("uri", String, primary_key=True),
    Column("collection", String, nullable=False),
    Column("repo", String, nullable=False),
    Column("cid", String, nullable=True),
    Column("rev", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("detail", String, nullable=False),
    Column("rejected_at", UtcDateTime(), nullable=False),
    Index("ix_rejections_repo", "repo"),
)

# The AppView's own ordered feed of validated changes (WatchRecords reads it by seq).
feed = Table(
    "feed",
    Base.metadata,
    # BigIntPk: on SQLite the rowid itself (INTEGER PRIMARY KEY), one b-tree per row.
    Column("seq", BigIntPk, primary_key=True, autoincrement=False),
    Column("action", String, nullable=False),  # create | update | delete
    Column("uri", String, nullable=False),
    Column("collection", String, nullable=False),
    Column("repo", String, nullable=False),
    Column("rkey", String, nullable=False),
    Column("cid", String, nullable=True),
    Column("rev", String, nullable=False),
    Column("record", LargeBinary, nullable=True),
    Column("indexed_at", UtcDateTime(), nullable=False),
    Index("ix_feed_collection_seq", "collection", "seq"),
)

# One row: the last feed seq handed out. Every writer locks it first, so feed rows commit in
# seq order and a reader paging by seq never skips one that commits later.
feed_head = Table(
    "feed_head",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
)

# Receipt activity per (granularity, bucket start, model, provider): "m" minute, "h" hour.
activity = Table(
    "activity",
    Base.metadata,
    Column("granularity", String(1), primary_key=True),
    Column("bucket", UtcDateTime(), primary_key=True),
    Column("model", String, primary_key=True),
    Column("provider", String, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("tokens", BigInteger, nullable=False),
)
