"""Band overrides: a person's band for an account, beside the model's, until it ends or expires.

An override is its own row: the stored model score and band never change, and nothing here is
read by training (which reads the data directory only). Creating one while another is active
replaces it (a ``change``); ending it by hand is an ``end``. Reaching its expiry ends it by
itself: every read compares ``expires_at`` with the time of the read, and :func:`expire_due`
closes the row and audits the ``expire`` (at the expiry time) before the account's next change
and before the audit log is listed. One open row per account at most: a partial unique index
(migration ``0010``) refuses a second, so two people saving at once cannot both win; a row is
closed only while still open, so two writers never both audit its end.

Times are compared in UTC: SQLite keeps a stored time's wall clock and drops its offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vitals.serving.alerts.records import utc
from vitals.serving.people.audit import record
from vitals.serving.store import BandOverride, HealthRepository, HealthStore

BANDS = ("good", "average", "poor")
DEFAULT_DAYS = 30
EXPIRY_ACTOR = "vitals (expiry)"


class OverrideError(ValueError):
    """An override that cannot be made, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class OverrideConflict(RuntimeError):
    """Another override of the account was saved at the same moment, twice in a row."""


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
        .where(BandOverride.ended_at.is_(None), BandOverride.expires_at > now.astimezone(UTC))
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
    now = now.astimezone(UTC)
    expires = (expires_at or now + timedelta(days=DEFAULT_DAYS)).astimezone(UTC)
    if expires <= now:
        raise OverrideError("expires_at", f"expires_at {expires.isoformat()} is in the past")
    expire_due(session, now, [account_id])
    previous = active_overrides(session, [account_id], now).get(account_id)
    # a retried save may carry a time just before the row it replaces was made
    if previous is not None and not _end(
        session, previous, author, max(now, utc(previous.created_at))
    ):
        previous = None  # another writer ended it just now, and audited that
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
    now = now.astimezone(UTC)
    expire_due(session, now, [account_id])
    previous = active_overrides(session, [account_id], now).get(account_id)
    if previous is None or not _end(session, previous, author, now):
        return False
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


def expire_due(session: Session, now: datetime, account_ids: Sequence[str] | None = None) -> int:
    """Close the open overrides whose expiry has passed (of ``account_ids``, else all), each with
    an ``override.expire`` audit entry dated at its expiry. Returns how many this call closed."""
    due = (
        select(BandOverride)
        .where(BandOverride.ended_at.is_(None), BandOverride.expires_at <= now.astimezone(UTC))
        .order_by(BandOverride.expires_at, BandOverride.id)
    )
    if account_ids is not None:
        due = due.where(BandOverride.account_id.in_(list(account_ids)))
    closed = 0
    for row in list(session.scalars(due)):
        if not _end(session, row, EXPIRY_ACTOR, utc(row.expires_at)):
            continue  # another writer closed it first, and audited that
        record(
            session,
            at=utc(row.expires_at),
            actor=EXPIRY_ACTOR,
            action="override.expire",
            account_id=row.account_id,
            before=as_dict(row),
            after=None,
        )
        closed += 1
    return closed


def save_override(
    store: HealthStore,
    account_id: str,
    *,
    band: str,
    reason: str,
    author: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    """:func:`set_override` in its own transaction, for an account the store has scored.

    When another writer saved an override of the account at the same moment, the unique open
    row refuses this one; it is tried once more, and then replaces the other (a ``change``).

    Raises:
        OverrideError: an account without scores, or what :func:`set_override` refuses.
        OverrideConflict: the second try lost to yet another writer.
    """
    for attempt in range(2):
        with store.session() as session:
            if not HealthRepository(session).latest([account_id]):
                raise OverrideError("account_id", f"no scores for account {account_id!r}")
            try:
                set_override(
                    session,
                    account_id,
                    band=band,
                    reason=reason,
                    author=author,
                    now=now,
                    expires_at=expires_at,
                )
                session.commit()
                return
            except IntegrityError:  # the one open row per account (the table's only unique key)
                session.rollback()
                if attempt:
                    raise OverrideConflict(
                        f"other overrides of {account_id!r} were saved at the same moment: "
                        "read the one in force, and try again"
                    ) from None


def _end(session: Session, row: BandOverride, author: str, now: datetime) -> bool:
    """Close ``row`` if it is still open; ``False`` when another writer closed it first."""
    closed = session.execute(
        update(BandOverride)
        .where(BandOverride.id == row.id, BandOverride.ended_at.is_(None))
        .values(ended_at=now, ended_by=author)
    )
    return closed.rowcount == 1
