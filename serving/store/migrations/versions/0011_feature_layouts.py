"""Feature vectors stored as their values, with their column names kept once (``feature_layouts``).

Naming every value in every stored vector made a 400-feature vector about four times as large
as its values, and writing it the larger part of storing an account's score. Rows already stored
keep their JSON object and no layout (readers take both), so upgrading rewrites no row.

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
FOREIGN_KEY = "fk_account_features_layout_id_feature_layouts"
CHUNK = 1000  # vectors named again per statement on the way down


def upgrade() -> None:
    """Create ``feature_layouts`` and give ``account_features`` a ``layout_id``."""
    op.create_table(
        "feature_layouts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_layouts")),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic's batch mode would copy the
        # table (the store's largest) to add the constraint
        op.execute(
            f"ALTER TABLE account_features ADD COLUMN layout_id VARCHAR(32) "
            f"CONSTRAINT {FOREIGN_KEY} REFERENCES feature_layouts (id)"
        )
    else:
        op.add_column("account_features", sa.Column("layout_id", sa.String(32), nullable=True))
        op.create_foreign_key(
            op.f(FOREIGN_KEY), "account_features", "feature_layouts", ["layout_id"], ["id"]
        )


def downgrade() -> None:
    """Write every vector with a layout back as an object of name and value, a chunk at a time,
    then drop the column and the table."""
    conn = op.get_bind()
    names = dict(conn.execute(sa.select(LAYOUTS.c.id, LAYOUTS.c.names)).all())
    with_layout = sa.select(
        VECTORS.c.account_id, VECTORS.c.as_of, VECTORS.c.layout_id, VECTORS.c.features
    ).where(VECTORS.c.layout_id.is_not(None))
    named_again = (
        sa.update(VECTORS)
        .where(
            VECTORS.c.account_id == sa.bindparam("key_account"),
            VECTORS.c.as_of == sa.bindparam("key_as_of"),
        )
        .values(features=sa.bindparam("named", type_=JSON), layout_id=None)
    )
    while rows := conn.execute(with_layout.limit(CHUNK)).all():
        conn.execute(
            named_again,
            [
                {
                    "key_account": account,
                    "key_as_of": as_of,
                    "named": dict(zip(names[layout], values, strict=True)),
                }
                for account, as_of, layout, values in rows
            ],
        )
    if conn.dialect.name == "sqlite":  # SQLite drops no column a reference uses: copy the table
        with op.batch_alter_table("account_features") as batch:
            batch.drop_column("layout_id")
    else:
        op.drop_constraint(op.f(FOREIGN_KEY), "account_features", type_="foreignkey")
        op.drop_column("account_features", "layout_id")
    op.drop_table("feature_layouts")
