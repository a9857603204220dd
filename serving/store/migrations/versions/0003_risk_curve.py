"""The risk curve beside each score: risk within 30, 90, 180 and 365 days, and by the renewal.

Existing rows keep working: the new columns are nullable, and scores written by models saved
before the curve leave them empty.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORE_TABLES = ("health_scores", "staged_health_scores")
ROLLUP_TABLES = ("parent_health", "staged_parent_health")
RISK_COLUMNS = ("risk_30d", "risk_90d", "risk_180d", "risk_365d", "renewal_risk", "days_to_renewal")
RENEWAL_REVENUE = "renewal_revenue_at_risk"


def upgrade() -> None:
    """Add the curve and the renewal revenue at risk (nullable) to scores and roll-ups."""
    for table in SCORE_TABLES:
        for column in (*RISK_COLUMNS, RENEWAL_REVENUE):
            op.add_column(table, sa.Column(column, sa.Float(), nullable=True))
    for table in ROLLUP_TABLES:
        op.add_column(table, sa.Column(RENEWAL_REVENUE, sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the columns again."""
    for table in ROLLUP_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(RENEWAL_REVENUE)
    for table in SCORE_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in (*RISK_COLUMNS, RENEWAL_REVENUE):
                batch.drop_column(column)
