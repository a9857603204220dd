"""The audit log as the outbox of CSM ratings, on SQLite and PostgreSQL: a rating read back from
the log is redelivered with the very body it was first ingested with (JSONB reorders keys)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vitals.serving.people import sentiment
from vitals.serving.people.audit import record
from vitals.serving.store import HealthStore


@dataclass
class Answer:
    """What an ingestion answers, as far as redelivery reads it."""

    rejected: list[dict[str, Any]] = field(default_factory=list)
    replayed: bool = False


@dataclass
class RecordingIngestor:
    """Remembers each batch it is given; answers as if the key was new."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def ingest(
        self, rows: Mapping[str, Sequence[Mapping[str, Any]]], key: str, body: bytes
    ) -> Answer:
        """Keep the key and body."""
        self.sent.append((key, body))
        return Answer()


def test_a_rating_read_back_from_the_log_is_sent_with_its_first_body(database_url: str) -> None:
    store = HealthStore.open(database_url)
    # keys in an order neither sorted nor JSONB's (shorter keys first)
    row = {"recorded_at": "2026-03-01T10:00:00+00:00", "rating": "red", "note": "Champion left",
           "author": "csm", "account_id": "a1"}  # fmt: skip
    with store.session() as session:
        record(
            session, at=datetime(2026, 3, 1, 10, tzinfo=UTC), actor="csm",
            action="sentiment.create", account_id="a1", before=None,
            after={**row, "ingest_key": "sentiment-1"},
        )  # fmt: skip
        session.commit()
    ingestor = RecordingIngestor()
    assert sentiment.redeliver_ratings(ingestor, store) == 1  # type: ignore[arg-type]
    assert ingestor.sent == [("sentiment-1", json.dumps(row, sort_keys=True).encode())]
    store.close()
