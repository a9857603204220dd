"""Stored alerts: writing new ones with their deliveries, listing and acknowledging them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vitals.config.alerts import AlertSettings
from vitals.serving.store import HealthStore, StoreError
from vitals.serving.store.alert_schema import MESSAGE_LENGTH, Alert, AlertDelivery
from vitals.serving.store.db import store_errors


@dataclass(frozen=True)
class NewAlert:
    """An alert to store (see :class:`vitals.serving.store.alert_schema.Alert`)."""

    dedupe_key: str
    rule: str
    kind: str
    subject_kind: str
    subject_id: str
    as_of: date
    model_version: str
    severity: str
    message: str
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredAlert:
    """A stored alert, as the API lists it and webhooks receive it."""

    id: int
    rule: str
    kind: str
    subject_kind: str
    subject_id: str
    as_of: date
    model_version: str
    severity: str
    message: str
    details: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, row: Alert | Row[Any]) -> StoredAlert:
        """The record of a row of ``alerts`` (a mapped object or a result row)."""
        return cls(
            id=row.id,
            rule=row.rule,
            kind=row.kind,
            subject_kind=row.subject_kind,
            subject_id=row.subject_id,
            as_of=row.as_of,
            model_version=row.model_version,
            severity=row.severity,
            message=row.message,
            details=row.details,
            created_at=utc(row.created_at),
            acknowledged_at=None if row.acknowledged_at is None else utc(row.acknowledged_at),
            acknowledged_by=row.acknowledged_by,
        )

    def to_json(self) -> dict[str, Any]:
        """The alert as JSON-ready values (dates and times in ISO 8601)."""
        values = asdict(self)
        for name in ("as_of", "created_at", "acknowledged_at"):
            if values[name] is not None:
                values[name] = values[name].isoformat()
        return values


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to list; empty fields keep everything."""

    acknowledged: bool | None = None
    kinds: Sequence[str] = ()
    rules: Sequence[str] = ()
    subject_id: str | None = None
    since: date | None = None


def stored_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Those of the dedupe ``keys`` that are stored already."""
    found: set[str] = set()
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        found.update(session.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(chunk))))
    return found


def store_alerts(
    store: HealthStore, alerts: Sequence[NewAlert], settings: AlertSettings, now: datetime
) -> list[StoredAlert]:
    """Store the alerts not stored yet and queue their deliveries, in one transaction.

    Args:
        store: the health store.
        alerts: candidate alerts; those whose dedupe key is stored already are left out.
        settings: the webhooks each rule's alerts go to.
        now: the creation time, and when the first delivery attempts are due.

    Returns:
        The alerts stored now, by id.
    """
    if not alerts:
        return []
    rows = [{**asdict(a), "message": a.message[:MESSAGE_LENGTH], "created_at": now} for a in alerts]
    with _transaction(store, "store alerts") as session:
        created = sorted(
            map(StoredAlert.of, _insert_new(session.connection(), rows)), key=attrgetter("id")
        )
        deliveries = [
            {"alert_id": a.id, "webhook_url": w.url, "attempts": 0, "next_attempt_at": now}
            for a in created
            for w in settings.webhooks_for(a.rule)
        ]
        if deliveries:
            session.execute(insert(AlertDelivery), deliveries)
    return created


def list_alerts(
    session: Session, which: AlertFilter, *, before_id: int | None, limit: int
) -> tuple[list[StoredAlert], bool]:
    """Alerts matching ``which``, newest first, with ids below ``before_id`` when given.

    Returns:
        Up to ``limit`` alerts, and whether more follow.
    """
    query = select(Alert)
    if which.acknowledged is not None:
        acked = Alert.acknowledged_at.is_not(None)
        query = query.where(acked if which.acknowledged else ~acked)
    if which.kinds:
        query = query.where(Alert.kind.in_(which.kinds))
    if which.rules:
        query = query.where(Alert.rule.in_(which.rules))
    if which.subject_id is not None:
        query = query.where(Alert.subject_id == which.subject_id)
    if which.since is not None:
        query = query.where(Alert.as_of >= which.since)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    rows = list(session.scalars(query.order_by(Alert.id.desc()).limit(limit + 1)))
    return [StoredAlert.of(r) for r in rows[:limit]], len(rows) > limit


def acknowledge(store: HealthStore, alert_id: int, by: str, now: datetime) -> StoredAlert | None:
    """Mark an alert acknowledged by ``by`` at ``now``; an acknowledged alert keeps its first
    acknowledgement. ``None`` when there is no such alert."""
    with _transaction(store, "acknowledge an alert") as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by)
        )
        row = session.get(Alert, alert_id)
        return None if row is None else StoredAlert.of(row)


def utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands them back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def _transaction(store: HealthStore, doing: str) -> Iterator[Session]:
    with store_errors(store.engine, doing), Session(store.engine) as session, session.begin():
        yield session


def _insert_new(connection: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
    """Insert the rows whose dedupe key is new (others are skipped, even when a concurrent
    evaluation inserts them meanwhile); the inserted rows, as stored."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    insert_into = dialects.get(connection.dialect.name)
    if insert_into is None:
        raise StoreError(f"alerts need SQLite or PostgreSQL, not {connection.dialect.name}")
    statement = (
        insert_into(Alert)
        .on_conflict_do_nothing(index_elements=[Alert.dedupe_key])
        .returning(*Alert.__table__.columns)
    )
    return list(connection.execute(statement, rows))
