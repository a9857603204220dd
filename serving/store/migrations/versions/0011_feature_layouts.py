"""Feature vectors stored as their values, with their column names kept once (``feature_layouts``).

Naming every value in every stored vector made a 400-feature vector about three times as large
as its values, and writing it the larger part of storing an account's score. Rows already stored
keep their JSON object and no layout (readers take both), so upgrading rewrites nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LAYOUTS = sa.table("feature_layouts", sa.column("id"), sa.column("names", JSON))
VECTORS = sa.table(
    "account_features",
    *(sa.column(name) for name in ("account_id", "as_of", "layout_id")),
    sa.column("features", JSON),
)


def upgrade() -> None:
    """Create ``feature_layouts`` and give ``account_features`` a ``layout_id``."""
    op.create_table(
        "feature_layouts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_layouts")),
    )
    with op.batch_alter_table("account_features") as batch:
        batch.add_column(sa.Column("layout_id", sa.String(32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_account_features_layout_id_feature_layouts"),
            "feature_layouts",
            ["layout_id"],
            ["id"],
        )


def downgrade() -> None:
    """Write every vector with a layout back as an object of name and value, then drop the
    column and the table."""
    conn = op.get_bind()
    names = dict(conn.execute(sa.select(LAYOUTS.c.id, LAYOUTS.c.names)).all())
    rows = conn.execute(
        sa.select(
            VECTORS.c.account_id, VECTORS.c.as_of, VECTORS.c.layout_id, VECTORS.c.features
        ).where(VECTORS.c.layout_id.is_not(None))
    ).all()
    for account, as_of, layout, values in rows:
        conn.execute(
            sa.update(VECTORS)
            .where(VECTORS.c.account_id == account, VECTORS.c.as_of == as_of)
            .values(features=dict(zip(names[layout], values, strict=True)))
        )
    with op.batch_alter_table("account_features") as batch:
        batch.drop_constraint(
            op.f("fk_account_features_layout_id_feature_layouts"), type_="foreignkey"
        )
        batch.drop_column("layout_id")
    op.drop_table("feature_layouts")
