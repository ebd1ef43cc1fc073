"""The initial schema: record tables, ingest bookkeeping, the feed and activity rollups.

Revision ID: 0001_initial
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cocore.storage.types

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:  # noqa: PLR0915
    op.create_table(
        "activity",
        sa.Column("granularity", sa.String(length=1), nullable=False),
        sa.Column("bucket", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "granularity", "bucket", "model", "provider", name=op.f("pk_activity")
        ),
    )
    op.create_table(
        "attestations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("attested_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("expires_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestations")),
        sa.UniqueConstraint("uri", name=op.f("uq_attestations_uri")),
    )
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.create_index("ix_attestations_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "disputes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("settlement_uri", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("uri", name=op.f("uq_disputes_uri")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index("ix_disputes_repo_id", ["repo", "id"], unique=False)
        batch_op.create_index("ix_disputes_settlement_uri", ["settlement_uri"], unique=False)

    op.create_table(
        "exchange_attestations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("policy_uri", sa.String(), nullable=True),
        sa.Column("signing_key_fingerprint", sa.String(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_attestations")),
        sa.UniqueConstraint("uri", name=op.f("uq_exchange_attestations_uri")),
    )
    with op.batch_alter_table("exchange_attestations", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_attestations_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "exchange_policies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_policies")),
        sa.UniqueConstraint("uri", name=op.f("uq_exchange_policies_uri")),
    )
    with op.batch_alter_table("exchange_policies", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_policies_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "feed",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=True),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=True),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feed")),
    )
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.create_index("ix_feed_collection_seq", ["collection", "seq"], unique=False)

    op.create_table(
        "feed_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_head")),
    )
    op.create_table(
        "friends",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_friends")),
        sa.UniqueConstraint("uri", name=op.f("uq_friends_uri")),
    )
    with op.batch_alter_table("friends", schema=None) as batch_op:
        batch_op.create_index("ix_friends_repo_subject_id", ["repo", "subject", "id"], unique=False)
        batch_op.create_index("ix_friends_subject_id", ["subject", "id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("payment_authorization_uri", sa.String(), nullable=True),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("expires_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("uri", name=op.f("uq_jobs_uri")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_payment_authorization_uri", ["payment_authorization_uri"], unique=False
        )
        batch_op.create_index("ix_jobs_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "payment_authorizations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("exchange", sa.String(), nullable=True),
        sa.Column("nonce", sa.String(), nullable=True),
        sa.Column("expires_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_authorizations")),
        sa.UniqueConstraint("uri", name=op.f("uq_payment_authorizations_uri")),
    )
    with op.batch_alter_table("payment_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_authorizations_exchange_nonce", ["exchange", "nonce"], unique=False
        )
        batch_op.create_index("ix_payment_authorizations_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "profiles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("handle", sa.String(), nullable=True),
        sa.Column("avatar_url", sa.String(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
        sa.UniqueConstraint("uri", name=op.f("uq_profiles_uri")),
    )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.create_index("ix_profiles_repo", ["repo"], unique=False)

    op.create_table(
        "providers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("trust_level", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("serving", sa.Boolean(), nullable=True),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("uri", name=op.f("uq_providers_uri")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index("ix_providers_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "receipts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("requester", sa.String(), nullable=True),
        sa.Column("job_uri", sa.String(), nullable=True),
        sa.Column("attestation_uri", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("started_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("completed_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("latency_ms", sa.BigInteger(), nullable=True),
        sa.Column("price_amount", sa.BigInteger(), nullable=True),
        sa.Column("price_currency", sa.String(), nullable=True),
        sa.Column("tokens_in", sa.BigInteger(), nullable=True),
        sa.Column("tokens_out", sa.BigInteger(), nullable=True),
        sa.Column("pro_bono", sa.Boolean(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("uri", name=op.f("uq_receipts_uri")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index("ix_receipts_job_uri_id", ["job_uri", "id"], unique=False)
        batch_op.create_index("ix_receipts_model_id", ["model", "id"], unique=False)
        batch_op.create_index("ix_receipts_repo_id", ["repo", "id"], unique=False)
        batch_op.create_index("ix_receipts_requester_id", ["requester", "id"], unique=False)

    op.create_table(
        "rejections",
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=True),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("rejected_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_rejections")),
    )
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.create_index("ix_rejections_repo", ["repo"], unique=False)

    op.create_table(
        "repos",
        sa.Column("did", sa.String(), nullable=False),
        sa.Column("handle", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("backfill", sa.String(), nullable=False),
        sa.Column("backfill_rev", sa.String(), nullable=True),
        sa.Column("backfill_attempts", sa.Integer(), nullable=False),
        sa.Column("backfill_retry_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("first_seen_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("last_activity_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("job_count", sa.BigInteger(), nullable=False),
        sa.Column("receipt_count", sa.BigInteger(), nullable=False),
        sa.Column("provider_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("did", name=op.f("pk_repos")),
    )
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.create_index("ix_repos_backfill", ["backfill"], unique=False)
        batch_op.create_index("ix_repos_first_seen_at_did", ["first_seen_at", "did"], unique=False)
        batch_op.create_index(
            "ix_repos_last_activity_at_did", ["last_activity_at", "did"], unique=False
        )

    op.create_table(
        "settlements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("receipt_uri", sa.String(), nullable=True),
        sa.Column("authorization_uri", sa.String(), nullable=True),
        sa.Column("requester", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("settled_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
        sa.UniqueConstraint("uri", name=op.f("uq_settlements_uri")),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index("ix_settlements_receipt_uri_id", ["receipt_uri", "id"], unique=False)
        batch_op.create_index("ix_settlements_repo_id", ["repo", "id"], unique=False)
        batch_op.create_index("ix_settlements_requester_id", ["requester", "id"], unique=False)

    op.create_table(
        "sources",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=True),
        sa.Column("discovered", sa.Boolean(), nullable=False),
        sa.Column("updated_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )
    op.create_table(
        "terms_acceptances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("exchange", sa.String(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms_acceptances")),
        sa.UniqueConstraint("uri", name=op.f("uq_terms_acceptances_uri")),
    )
    with op.batch_alter_table("terms_acceptances", schema=None) as batch_op:
        batch_op.create_index("ix_terms_acceptances_repo_id", ["repo", "id"], unique=False)

    op.create_table(
        "token_grants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_grants")),
        sa.UniqueConstraint("uri", name=op.f("uq_token_grants_uri")),
    )
    with op.batch_alter_table("token_grants", schema=None) as batch_op:
        batch_op.create_index("ix_token_grants_recipient_id", ["recipient", "id"], unique=False)

    op.create_table(
        "token_patronages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("cid", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("rkey", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.Column("indexed_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("tokens_credited", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_patronages")),
        sa.UniqueConstraint("uri", name=op.f("uq_token_patronages_uri")),
    )
    with op.batch_alter_table("token_patronages", schema=None) as batch_op:
        batch_op.create_index("ix_token_patronages_recipient_id", ["recipient", "id"], unique=False)

    op.create_table(
        "tombstones",
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("rev", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_tombstones")),
    )
    feed_head = sa.table(
        "feed_head", sa.column("id", sa.Integer()), sa.column("seq", sa.BigInteger())
    )
    op.bulk_insert(feed_head, [{"id": 1, "seq": 0}])


def downgrade() -> None:  # noqa: PLR0915
    op.drop_table("tombstones")
    with op.batch_alter_table("token_patronages", schema=None) as batch_op:
        batch_op.drop_index("ix_token_patronages_recipient_id")

    op.drop_table("token_patronages")
    with op.batch_alter_table("token_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_token_grants_recipient_id")

    op.drop_table("token_grants")
    with op.batch_alter_table("terms_acceptances", schema=None) as batch_op:
        batch_op.drop_index("ix_terms_acceptances_repo_id")

    op.drop_table("terms_acceptances")
    op.drop_table("sources")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index("ix_settlements_requester_id")
        batch_op.drop_index("ix_settlements_repo_id")
        batch_op.drop_index("ix_settlements_receipt_uri_id")

    op.drop_table("settlements")
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.drop_index("ix_repos_last_activity_at_did")
        batch_op.drop_index("ix_repos_first_seen_at_did")
        batch_op.drop_index("ix_repos_backfill")

    op.drop_table("repos")
    with op.batch_alter_table("rejections", schema=None) as batch_op:
        batch_op.drop_index("ix_rejections_repo")

    op.drop_table("rejections")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_requester_id")
        batch_op.drop_index("ix_receipts_repo_id")
        batch_op.drop_index("ix_receipts_model_id")
        batch_op.drop_index("ix_receipts_job_uri_id")

    op.drop_table("receipts")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index("ix_providers_repo_id")

    op.drop_table("providers")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_repo")

    op.drop_table("profiles")
    with op.batch_alter_table("payment_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_authorizations_repo_id")
        batch_op.drop_index("ix_payment_authorizations_exchange_nonce")

    op.drop_table("payment_authorizations")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_repo_id")
        batch_op.drop_index("ix_jobs_payment_authorization_uri")

    op.drop_table("jobs")
    with op.batch_alter_table("friends", schema=None) as batch_op:
        batch_op.drop_index("ix_friends_subject_id")
        batch_op.drop_index("ix_friends_repo_subject_id")

    op.drop_table("friends")
    op.drop_table("feed_head")
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_collection_seq")

    op.drop_table("feed")
    with op.batch_alter_table("exchange_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_policies_repo_id")

    op.drop_table("exchange_policies")
    with op.batch_alter_table("exchange_attestations", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_attestations_repo_id")

    op.drop_table("exchange_attestations")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_settlement_uri")
        batch_op.drop_index("ix_disputes_repo_id")

    op.drop_table("disputes")
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index("ix_attestations_repo_id")

    op.drop_table("attestations")
    op.drop_table("activity")
