"""One open band override per account (a partial unique index).

Before it, two people saving an override of one account at the same moment on PostgreSQL could
both insert one. Rows a crash or race left open twice are closed first, keeping the newest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    """Close duplicate open overrides (all but the newest), then add the unique index."""
    op.execute(
        "UPDATE band_overrides SET ended_at = created_at, ended_by = 'vitals (migration 0010)' "
        "WHERE ended_at IS NULL AND id NOT IN ("
        "SELECT max(id) FROM band_overrides WHERE ended_at IS NULL GROUP BY account_id)"
    )
    op.create_index(
        "uq_band_overrides_open",
        "band_overrides",
        ["account_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("uq_band_overrides_open", table_name="band_overrides")
