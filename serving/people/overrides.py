"""Band overrides: a person's band for an account, beside the model's, until it ends or expires.

An override is its own row: the stored model score and band never change, and nothing here is
read by training (which reads the data directory only). Creating one while another is active
replaces it (a ``change``); ending it by hand is an ``end``; reaching its expiry ends it by
itself, with no write (every read compares ``expires_at`` with the time of the read).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vitals.serving.alerts.records import utc
from vitals.serving.people.audit import record
from vitals.serving.store import BandOverride

BANDS = ("good", "average", "poor")
DEFAULT_DAYS = 30


class OverrideError(ValueError):
    """An override that cannot be made, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def as_dict(row: BandOverride) -> dict[str, Any]:
    """An override as plain JSON data (what the audit log and the API carry)."""
    return {
        "id": row.id,
        "band": row.band,
        "reason": row.reason,
        "author": row.author,
        "created_at": utc(row.created_at).isoformat(),
        "expires_at": utc(row.expires_at).isoformat(),
    }


def active_overrides(
    session: Session, account_ids: Sequence[str], now: datetime
) -> dict[str, BandOverride]:
    """The override in force now of each account that has one."""
    if not account_ids:
        return {}
    rows = session.scalars(
        select(BandOverride)
        .where(BandOverride.account_id.in_(list(account_ids)))
        .where(BandOverride.ended_at.is_(None), BandOverride.expires_at > now)
        .order_by(BandOverride.id)
    )
    return {row.account_id: row for row in rows}  # the newest wins (there is one at most)


def set_override(
    session: Session,
    account_id: str,
    *,
    band: str,
    reason: str,
    author: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> BandOverride:
    """Override the account's band (replacing an active override), and audit it.

    Raises:
        OverrideError: an unknown band, an empty reason, or an expiry not after ``now``.
    """
    if band not in BANDS:
        raise OverrideError("band", f"band must be one of {', '.join(BANDS)}, not {band!r}")
    if not reason.strip():
        raise OverrideError("reason", "an override needs a reason")
    # stored in UTC: SQLite keeps the wall time and drops the offset
    expires = (expires_at or now + timedelta(days=DEFAULT_DAYS)).astimezone(UTC)
    if expires <= now:
        raise OverrideError("expires_at", f"expires_at {expires.isoformat()} is in the past")
    previous = active_overrides(session, [account_id], now).get(account_id)
    if previous is not None:
        _end(session, previous, author, now)
    row = BandOverride(
        account_id=account_id,
        band=band,
        reason=reason.strip(),
        author=author,
        created_at=now,
        expires_at=expires,
    )
    session.add(row)
    session.flush()  # gives the row its id
    record(
        session,
        at=now,
        actor=author,
        action="override.change" if previous is not None else "override.create",
        account_id=account_id,
        before=as_dict(previous) if previous is not None else None,
        after=as_dict(row),
    )
    return row


def end_override(session: Session, account_id: str, *, author: str, now: datetime) -> bool:
    """End the account's active override now, and audit it (``False``: none was active)."""
    previous = active_overrides(session, [account_id], now).get(account_id)
    if previous is None:
        return False
    _end(session, previous, author, now)
    record(
        session,
        at=now,
        actor=author,
        action="override.end",
        account_id=account_id,
        before=as_dict(previous),
        after=None,
    )
    return True


def _end(session: Session, row: BandOverride, author: str, now: datetime) -> None:
    session.execute(
        update(BandOverride).where(BandOverride.id == row.id).values(ended_at=now, ended_by=author)
    )
