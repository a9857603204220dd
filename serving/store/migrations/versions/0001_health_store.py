"""Health store: scoring runs, health scores, parent roll-ups and their staging twins.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
VERSION = sa.String(128)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _score_columns() -> list[sa.Column]:
    return [
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("segment", ID, nullable=True),
        sa.Column("profile", ID, nullable=False),
        sa.Column("pooled", sa.Boolean(), nullable=False),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column("health_score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("baseline_score", sa.Float(), nullable=True),
        sa.Column("contract_value", sa.Float(), nullable=True),
        sa.Column("revenue_at_risk", sa.Float(), nullable=True),
        sa.Column("reasons", JSON, nullable=False),
    ]


def _rollup_columns() -> list[sa.Column]:
    return [
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("own_usage", sa.Boolean(), nullable=False),
        sa.Column("n_accounts", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("share_good", sa.Float(), nullable=True),
        sa.Column("share_average", sa.Float(), nullable=True),
        sa.Column("share_poor", sa.Float(), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("contract_value", sa.Float(), nullable=True),
        sa.Column("revenue_at_risk", sa.Float(), nullable=True),
        sa.Column("pulling_down", JSON, nullable=False),
        sa.Column("reasons", JSON, nullable=False),
    ]


def upgrade() -> None:
    """Create the store's tables and indexes."""
    op.create_table(
        "scoring_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_uri", sa.String(1000), nullable=False),
        sa.Column("model_version", VERSION, nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("first_as_of", sa.Date(), nullable=False),
        sa.Column("last_as_of", sa.Date(), nullable=False),
        sa.Column("n_dates", sa.Integer(), nullable=False),
        sa.Column("n_scores", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_runs")),
    )
    op.create_table(
        "health_scores",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", VERSION, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        *_score_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"], ["scoring_runs.id"], name=op.f("fk_health_scores_run_id_scoring_runs")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "as_of", "model_version", name=op.f("pk_health_scores")
        ),
    )
    op.create_index("ix_health_scores_worklist", "health_scores", ["as_of", "band", "health_score"])
    op.create_index("ix_health_scores_risk", "health_scores", ["as_of", "revenue_at_risk"])
    op.create_index("ix_health_scores_parent", "health_scores", ["parent_id", "as_of"])
    op.create_index(op.f("ix_health_scores_run_id"), "health_scores", ["run_id"])
    op.create_table(
        "staged_health_scores",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", VERSION, nullable=False),
        *_score_columns(),
        sa.PrimaryKeyConstraint(
            "run_id", "account_id", "as_of", name=op.f("pk_staged_health_scores")
        ),
    )
    op.create_table(
        "parent_health",
        sa.Column("parent_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", VERSION, nullable=False),
        sa.Column("weighting", sa.String(32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        *_rollup_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"], ["scoring_runs.id"], name=op.f("fk_parent_health_run_id_scoring_runs")
        ),
        sa.PrimaryKeyConstraint(
            "parent_id", "as_of", "model_version", "weighting", name=op.f("pk_parent_health")
        ),
    )
    op.create_index("ix_parent_health_as_of", "parent_health", ["as_of", "weighting", "health"])
    op.create_index(op.f("ix_parent_health_run_id"), "parent_health", ["run_id"])
    op.create_table(
        "staged_parent_health",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("weighting", sa.String(32), nullable=False),
        sa.Column("model_version", VERSION, nullable=False),
        *_rollup_columns(),
        sa.PrimaryKeyConstraint(
            "run_id", "parent_id", "as_of", "weighting", name=op.f("pk_staged_parent_health")
        ),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table("staged_parent_health")
    op.drop_index(op.f("ix_parent_health_run_id"), table_name="parent_health")
    op.drop_index("ix_parent_health_as_of", table_name="parent_health")
    op.drop_table("parent_health")
    op.drop_table("staged_health_scores")
    op.drop_index(op.f("ix_health_scores_run_id"), table_name="health_scores")
    op.drop_index("ix_health_scores_parent", table_name="health_scores")
    op.drop_index("ix_health_scores_risk", table_name="health_scores")
    op.drop_index("ix_health_scores_worklist", table_name="health_scores")
    op.drop_table("health_scores")
    op.drop_table("scoring_runs")
