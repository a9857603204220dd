"""API keys, stored feature vectors and the account tree (read by the API).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create ``api_keys``, ``account_features`` and ``account_hierarchy``."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "account_features",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "as_of", name=op.f("pk_account_features")),
    )
    op.create_table(
        "account_hierarchy",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_hierarchy")),
    )
    op.create_index(op.f("ix_account_hierarchy_parent_id"), "account_hierarchy", ["parent_id"])


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_index(op.f("ix_account_hierarchy_parent_id"), table_name="account_hierarchy")
    op.drop_table("account_hierarchy")
    op.drop_table("account_features")
    op.drop_table("api_keys")
