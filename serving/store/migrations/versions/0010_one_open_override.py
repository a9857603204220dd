"""One open band override per account (a partial unique index).

Before it, two people saving an override of one account at the same moment on PostgreSQL could
both insert one. Rows a race left open twice are ended first, keeping the newest, and each end
is audited.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("ended_at IS NULL")
ACTOR = "vitals (migration 0010)"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AWARE = sa.DateTime(timezone=True)
OVERRIDES = sa.table(
    "band_overrides",
    *(sa.column(name) for name in ("id", "account_id", "band", "reason", "author")),
    sa.column("created_at", AWARE),
    sa.column("expires_at", AWARE),
    sa.column("ended_at", AWARE),
    sa.column("ended_by"),
)
AUDIT = sa.table(
    "audit_log",
    sa.column("at", AWARE),
    *(sa.column(name) for name in ("actor", "action", "account_id")),
    sa.column("before", JSON),
    sa.column("after", JSON),
)


def upgrade() -> None:
    """End every open override but the newest of its account (when the newer one was made, with
    an ``override.end`` audit entry), then add the unique index."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(OVERRIDES).where(OPEN).order_by(OVERRIDES.c.account_id, OVERRIDES.c.id.desc())
    ).all()
    newest: dict[str, sa.Row] = {}
    for row in rows:
        kept = newest.setdefault(row.account_id, row)
        if kept is row:
            continue
        conn.execute(
            sa.update(OVERRIDES)
            .where(OVERRIDES.c.id == row.id)
            .values(ended_at=kept.created_at, ended_by=ACTOR)
        )
        before = {
            "id": row.id,
            "band": row.band,
            "reason": row.reason,
            "author": row.author,
            "created_at": _utc(row.created_at).isoformat(),
            "expires_at": _utc(row.expires_at).isoformat(),
        }
        conn.execute(
            sa.insert(AUDIT).values(
                at=kept.created_at, actor=ACTOR, action="override.end",
                account_id=row.account_id, before=before, after=None,
            )
        )  # fmt: skip
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


def _utc(moment: datetime) -> datetime:
    """A stored time in UTC (SQLite returns the UTC wall time without its offset)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
