"""Request and response models of what people add: sentiment, band overrides, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]  # SQLite hands stored times back naive


class SentimentIn(BaseModel):
    """A CSM's rating of an account (the author is the key's name, the time the server's)."""

    rating: str = Field(examples=["yellow"], description="red, yellow or green")
    note: str | None = Field(default=None, max_length=2000, examples=["Champion left in May"])


class SentimentEntry(BaseModel):
    """One rating, as stored in the data's ``sentiment`` table."""

    account_id: str
    recorded_at: UtcTime
    rating: str
    author: str | None
    note: str | None


class SentimentList(BaseModel):
    """An account's ratings, newest first."""

    items: list[SentimentEntry]


class OverrideIn(BaseModel):
    """A person's band for the account, with why, until ``expires_at`` (default: in 30 days)."""

    band: str = Field(examples=["poor"], description="good, average or poor")
    reason: str = Field(max_length=1000, examples=["Budget freeze announced on the QBR"])
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="when it ends by itself: in the future, with a time zone (e.g. Z)",
    )


class BandOverrideView(BaseModel):
    """An override in force: shown beside the model's band, never instead of its score."""

    band: str
    reason: str
    author: str
    created_at: UtcTime
    expires_at: UtcTime


class OverrideState(BaseModel):
    """The account's override in force, if any."""

    account_id: str
    override: BandOverrideView | None


class AuditItem(BaseModel):
    """One change a person made."""

    id: int
    at: UtcTime
    actor: str
    action: str = Field(
        examples=["override.create"],
        description="sentiment.create, override.create, override.change or override.end",
    )
    account_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    """Audit entries oldest first; pass ``next_after`` as ``after`` for the next page."""

    items: list[AuditItem]
    next_after: int | None
