"""CSM sentiment given through the API: a red / yellow / green rating and a note, per account.

An entry becomes a row of the ``sentiment`` table of the served data directory, ingested like
any other row (checked by the contract's rules, stored durably, re-scored), so ratings given
here and ratings in the customer's own ``sentiment`` file are one table for the features. The
audit log records each entry once it is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vitals.features.contract import SENTIMENT_RATINGS
from vitals.serving.ingest.ingestor import Ingestor
from vitals.serving.people.audit import record
from vitals.serving.people.overrides import OverrideError
from vitals.serving.store import HealthStore

NOTE_LENGTH = 2000


class SentimentError(OverrideError):
    """A rating that cannot be recorded, naming the field at fault."""


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
    """Record a rating as a ``sentiment`` row of the data directory, and audit it.

    Returns:
        The stored row.

    Raises:
        SentimentError: a rating other than red, yellow or green, a note too long, or a row the
            data contract refuses (an unknown account: field ``account_id``).
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
    result = ingestor.ingest({"sentiment": [row]})
    if result.rejected:
        first = result.rejected[0]
        raise SentimentError(first["field"] or "body", first["message"])
    with store.session() as session:
        record(
            session,
            at=now,
            actor=author,
            action="sentiment.create",
            account_id=account_id,
            before=None,
            after={**row, "batch": result.batch},
        )
        session.commit()
    return row
