"""The scorecard's score, band and points beside the model's score.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TABLES = ("health_scores", "staged_health_scores")


def upgrade() -> None:
    """Add ``scorecard_score``, ``scorecard_band`` and ``scorecard_points`` to both tables."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("scorecard_score", sa.Float(), nullable=True))
            batch.add_column(sa.Column("scorecard_band", sa.String(16), nullable=True))
            batch.add_column(sa.Column("scorecard_points", JSON, nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("scorecard_points")
            batch.drop_column("scorecard_band")
            batch.drop_column("scorecard_score")
