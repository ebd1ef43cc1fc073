"""Create the provider directory.

Revision ID: 0001_provider_directory
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cocore.storage.types

revision: str = "0001_provider_directory"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_directory",
        sa.Column("did", sa.String(length=256), nullable=False),
        sa.Column("machine_id", sa.String(length=512), nullable=False),
        sa.Column("replica_id", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("lease_expires_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.Column("snapshot", cocore.storage.types.CompactJson(), nullable=False),
        sa.Column("updated_at", cocore.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("did", "machine_id", name=op.f("pk_provider_directory")),
    )
    op.create_index(op.f("ix_provider_directory_replica_id"), "provider_directory", ["replica_id"])
    op.create_index(
        op.f("ix_provider_directory_lease_expires_at"), "provider_directory", ["lease_expires_at"]
    )


def downgrade() -> None:
    op.drop_table("provider_directory")
