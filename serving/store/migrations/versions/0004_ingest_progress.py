"""Real-time scoring: how far the re-scoring worker has read the ingested batches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``ingest_progress``: one row per consumer, the last batch sequence it has handled."""
    op.create_table(
        "ingest_progress",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_ingest_progress")),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("ingest_progress")
