"""Accounts, API keys and the record outbox.

Revision ID: 0001_accounts_keys_outbox
Revises:
Create Date: 2026-11-21 15:50:55.790651
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cocore.storage.types

revision: str = "0001_accounts_keys_outbox"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("did", sa.String(length=256), nullable=False),
        sa.Column("handle", sa.String(length=256), nullable=False),
        sa.Column("pds_url", sa.String(length=512), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("did", name=op.f("pk_accounts")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("did", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("revoked_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("last_used_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("tokens_per_minute", sa.Integer(), nullable=True),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_did"), ["did"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("did", sa.String(length=256), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("collection", sa.String(length=128), nullable=False),
        sa.Column("rkey", sa.String(length=64), nullable=False),
        sa.Column("cid", sa.String(length=128), nullable=False),
        sa.Column("record", cocore.storage.types.CompactJson(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=256), nullable=True),
        sa.Column("created_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("published_at", cocore.storage.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "did", "collection", "rkey", name=op.f("uq_outbox_did_collection_rkey")
        ),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_did"), ["did"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_group_key"), ["group_key"], unique=False)
        batch_op.create_index(
            "ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_group_key"))
        batch_op.drop_index(batch_op.f("ix_outbox_did"))

    op.drop_table("outbox")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_did"))

    op.drop_table("api_keys")
    op.drop_table("accounts")
