"""Ingest and query speed: the feed seq is SQLite's rowid; receipts by provider and requester.

Revision ID: 0002_ingest_speed
Revises: 0001_initial
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ingest_speed"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # INTEGER PRIMARY KEY makes seq the rowid: one b-tree per feed row instead of two.
        # (Batch mode copies the table; the feed is a rebuildable part of the index.)
        with op.batch_alter_table("feed", recreate="always") as batch_op:
            batch_op.alter_column(
                "seq", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
            )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_receipts_repo_requester_id", ["repo", "requester", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_repo_requester_id")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("feed", recreate="always") as batch_op:
            batch_op.alter_column(
                "seq", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
            )
