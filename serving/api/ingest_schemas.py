"""Request and response bodies of ``POST /v1/events`` and ``GET /v1/ingest/status``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]


class IngestBatch(BaseModel):
    """Rows to ingest, per table of the data contract; each row is an object of field -> value
    in the contract's shape (timestamps and dates as ISO 8601 text)."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[Row] = Field(default_factory=list, description="new accounts")
    subscriptions: list[Row] = Field(default_factory=list, description="new subscription lines")
    events: list[Row] = Field(default_factory=list, description="product usage events")
    tickets: list[Row] = Field(default_factory=list, description="new support tickets")
    surveys: list[Row] = Field(default_factory=list, description="survey answers")
    sentiment: list[Row] = Field(default_factory=list, description="CSM sentiment entries")


class RejectedRow(BaseModel):
    """A row that breaks a rule of the data contract; it was not kept."""

    table: str
    index: int = Field(description="the row's position in its table's list, from 0")
    rule: str = Field(description="the rule's id, as `vitals validate` reports it")
    field: str | None = Field(description="the field the rule checks (null: the whole row)")
    message: str


class IngestResponse(BaseModel):
    """What ingesting the batch did. Valid rows are durably stored when this is answered."""

    batch: int = Field(description="the batch's sequence number")
    accepted: dict[str, int] = Field(description="rows kept per table")
    rejected: list[RejectedRow]
    replayed: bool = Field(
        description="true when this Idempotency-Key was committed before: nothing new was kept"
    )
    received_at: str = Field(description="when the batch was first committed (UTC)")


class IngestStatus(BaseModel):
    """How far re-scoring has got with the ingested batches."""

    enabled: bool = Field(description="whether this server ingests (it has a data directory)")
    committed: int = Field(description="the last committed batch")
    rescored: int = Field(description="the last batch the live scores include")
    pending: int = Field(description="batches committed but not yet re-scored")
    as_of: str | None = Field(description="the date of the live scores (null before any)")
    error: str | None = Field(
        description="the last error of a worker inside this server, while it lasts"
    )
