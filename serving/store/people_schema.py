"""What people add beside the model: band overrides and the audit log (migration ``0008``).

An override never touches ``health_scores``: it is its own row, shown beside the model's band
until it ends (by hand) or expires. The audit log is append-only: the code only ever inserts
into it, and no endpoint edits or deletes an entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from vitals.serving.store.schema import ID_LENGTH, Base, JSONType

REASON_LENGTH = 1000
AUTHOR_LENGTH = 200


class BandOverride(Base):
    """A person's band for an account, with a reason, until it expires or is ended."""

    __tablename__ = "band_overrides"
    __table_args__ = (
        Index("ix_band_overrides_account", "account_id", "id"),
        # one open override per account: two people saving at once cannot both win
        Index(
            "uq_band_overrides_open",
            "account_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    band: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH))
    author: Mapped[str] = mapped_column(String(AUTHOR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(AUTHOR_LENGTH), nullable=True)


class AuditEntry(Base):
    """One change a person made: who, when, what, and the value before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_account", "account_id", "id"),
        Index("ix_audit_log_at", "at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(AUTHOR_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
