"""The append-only audit log: every sentiment entry and every override change.

Entries are only ever inserted (:func:`record`, inside the transaction of the change it records)
and listed (:func:`audit_page`); nothing in Vitals updates or deletes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vitals.serving.store import AuditEntry


def record(
    conn: Connection | Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    account_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one entry (in the caller's transaction, so it lands with the change or not at all)."""
    conn.execute(
        insert(AuditEntry).values(
            at=at, actor=actor, action=action, account_id=account_id, before=before, after=after
        )
    )


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log: an account, a time range, and a page after an entry id."""

    account_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    limit: int = 100


def audit_page(session: Session, query: AuditQuery) -> tuple[list[AuditEntry], int | None]:
    """Entries oldest first, and the id to pass as ``after_id`` for the next page (or ``None``)."""
    found = select(AuditEntry).order_by(AuditEntry.id)
    if query.account_id is not None:
        found = found.where(AuditEntry.account_id == query.account_id)
    if query.since is not None:
        found = found.where(AuditEntry.at >= query.since)
    if query.until is not None:
        found = found.where(AuditEntry.at < query.until)
    if query.after_id is not None:
        found = found.where(AuditEntry.id > query.after_id)
    rows = list(session.scalars(found.limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return rows, rows[-1].id if more else None
