"""Tables of raised alerts and of their deliveries to webhooks (migration ``0005``).

* ``alerts``: one row per alert, unique by ``dedupe_key`` (the rule, the subject and the scored
  date), so evaluating the same data again never stores an alert twice. ``details`` (JSON) holds
  the rule's parameters, the values before and after, and the reasons.
* ``alert_deliveries``: an outbox, one row per (alert, webhook): attempts made, when the next one
  is due (``None`` once delivered or given up), when it was delivered, and the last error.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vitals.serving.store.schema import ID_LENGTH, VERSION_LENGTH, Base, JSONType

RULE_LENGTH = 100
URL_LENGTH = 2000
MESSAGE_LENGTH = 1000
ERROR_LENGTH = 2000


class Alert(Base):
    """A raised alert about an account or a parent account."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_subject", "subject_id", "id"),
        Index("ix_alerts_open", "acknowledged_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(RULE_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))  # account | parent
    subject_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    as_of: Mapped[date] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(MESSAGE_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AlertDelivery(Base):
    """One alert to send to one webhook (the outbox the deliverer works through)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "webhook_url"),
        Index("ix_alert_deliveries_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    webhook_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH), nullable=True)
