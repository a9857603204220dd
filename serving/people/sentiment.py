"""CSM sentiment given through the API: a red / yellow / green rating and a note, per account.

An entry becomes a row of the ``sentiment`` table of the served data directory, ingested like
any other row (checked by the contract's rules, stored durably, re-scored), so ratings given
here and ratings in the customer's own ``sentiment`` file are one table for the features.

The data directory's store and the health store cannot share a transaction, so the audit log
is the outbox: holding the data store's writer lock (so no other batch changes what the rating
is checked against), a checked rating is appended to the audit log with the idempotency key of
its ingestion, then ingested under that key. A crash in between leaves an audit entry whose row
:func:`redeliver_ratings` ingests when the server starts again (a retried key counts once): a
rating is never stored without its audit entry, nor audited without being stored.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from vitals.features.contract import SENTIMENT_RATINGS
from vitals.serving.ingest.ingestor import Ingestor
from vitals.serving.people.audit import record
from vitals.serving.people.overrides import OverrideError
from vitals.serving.store import AuditEntry, HealthStore

logger = logging.getLogger(__name__)

NOTE_LENGTH = 2000
ACTION = "sentiment.create"


class SentimentError(OverrideError):
    """A rating that cannot be recorded, naming the field at fault."""


class RatingNotStored(RuntimeError):
    """A rating in the audit log that could not be stored yet (it is when the server restarts)."""


def add_sentiment(
    ingestor: Ingestor,
    store: HealthStore,
    account_id: str,
    *,
    rating: str,
    note: str | None,
    author: str,
    now: datetime,
) -> dict[str, Any]:
    """Audit a rating, then store it as a ``sentiment`` row of the data directory.

    Returns:
        The stored row.

    Raises:
        SentimentError: a rating other than red, yellow or green, a note too long, or a row the
            data contract refuses (an unknown account: field ``account_id``).
        RatingNotStored: the rating is audited, but storing it failed.
    """
    if rating not in SENTIMENT_RATINGS:
        raise SentimentError(
            "rating", f"rating must be one of {', '.join(SENTIMENT_RATINGS)}, not {rating!r}"
        )
    if note is not None and len(note) > NOTE_LENGTH:
        raise SentimentError("note", f"a note has at most {NOTE_LENGTH} characters")
    row = {
        "account_id": account_id,
        "recorded_at": now.isoformat(),
        "rating": rating,
        "author": author,
        "note": note or None,
    }
    key = f"sentiment-{uuid.uuid4()}"
    with ingestor.store.exclusive():
        if rejected := ingestor.check({"sentiment": [row]}, now):
            raise SentimentError(rejected[0]["field"] or "body", rejected[0]["message"])
        with store.session() as session:
            record(
                session,
                at=now,
                actor=author,
                action=ACTION,
                account_id=account_id,
                before=None,
                after={**row, "ingest_key": key},
            )
            session.commit()
        try:
            _ingest(ingestor, row, key)
        except Exception as error:
            logger.exception("rating %s is audited but not stored", key)
            raise RatingNotStored(
                "the rating is in the audit log but could not be stored in the data yet; it is "
                "stored when the server starts again: do not send it again"
            ) from error
    return row


def redeliver_ratings(ingestor: Ingestor, store: HealthStore) -> int:
    """Ingest the audited ratings whose ingestion a crash cut short; returns how many.

    Every audited rating is tried again under its own key: those already stored are replayed
    (nothing new is kept). One the data refuses now (its account left the data directory) is
    logged and skipped: it never stops the server from starting.
    """
    with store.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == ACTION)))
    delivered = 0
    for entry in entries:
        after = dict(entry.after or {})
        key = after.pop("ingest_key", None)
        if key is None:
            continue
        try:
            delivered += not _ingest(ingestor, after, key)
        except SentimentError as refused:
            logger.warning(
                "audit entry %d: the rating of account %r cannot be stored: %s",
                entry.id,
                entry.account_id,
                refused,
            )
    if delivered:
        logger.warning("%d audited ratings were not stored yet: stored them now", delivered)
    return delivered


def _ingest(ingestor: Ingestor, row: dict[str, Any], key: str) -> bool:
    """Ingest one rating under ``key``; ``True`` when it had been stored before."""
    # the body names the row by value: a row read back from the store's JSON may order its
    # fields differently
    body = json.dumps(row, sort_keys=True).encode()
    result = ingestor.ingest({"sentiment": [row]}, key=key, body=body)
    if result.rejected:  # only at a redelivery: the data changed since the rating was checked
        first = result.rejected[0]
        raise SentimentError(first["field"] or "body", first["message"])
    return result.replayed
