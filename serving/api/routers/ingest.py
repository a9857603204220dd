"""``POST /v1/events`` ingests rows as they happen; ``GET /v1/ingest/status`` tells the re-scoring.

A batch is acknowledged only once its valid rows are durably committed
(:mod:`vitals.features.ingested`); an ``Idempotency-Key`` makes a retried batch count once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from vitals.config.settings import IngestSettings
from vitals.features.batch_check import BatchError
from vitals.features.ingested import IdempotencyConflict
from vitals.serving.api.auth import KeyInfo
from vitals.serving.api.deps import AnyKey, require
from vitals.serving.api.errors import located, public
from vitals.serving.api.ingest_schemas import IngestBatch, IngestResponse, IngestStatus
from vitals.serving.api.schemas import problems
from vitals.serving.ingest.ingestor import Ingestor, TooManyRows
from vitals.serving.ingest.rescoring import Backlog
from vitals.serving.ingest.worker import RescoringWorker
from vitals.serving.store import HealthRepository

router = APIRouter(prefix="/v1", tags=["ingest"])

IngestKey = Annotated[KeyInfo, Depends(require("ingest"))]
_RETRY_AFTER = "1"


@router.post(
    "/events",
    response_model=IngestResponse,
    responses={
        **problems(401, 403, 413, 503),
        404: {"description": "this server does not ingest (it was started without --data)"},
        409: {"description": "the Idempotency-Key was used before with another body"},
        422: {"description": "the body is not a batch: an unknown table or field, a bad value"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": IngestBatch.model_json_schema()}},
        }
    },
)
async def ingest_events(
    request: Request,
    _: IngestKey,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="a retry with the same key and body counts once",
        ),
    ] = None,
) -> Any:
    """Ingest events, tickets, survey answers, sentiment, accounts and subscription lines.

    Each row is checked with the rules of `vitals validate`; rejected rows are listed with their
    rule and field, valid rows are kept. The answer comes once they are durably stored. While
    re-scoring is too far behind, the answer is 503 with `Retry-After`.
    """
    ingestor = _ingestion(request)
    raw = await request.body()
    try:
        batch = IngestBatch.model_validate_json(raw)
    except ValidationError as exc:
        return JSONResponse(
            {"detail": public(located(exc, "body"))},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    backlog = Backlog(request.app.state.store, ingestor.store)
    if behind := await run_in_threadpool(_behind, backlog, ingestor.settings):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"re-scoring is {behind}: retry shortly",
            headers={"Retry-After": _RETRY_AFTER},
        )
    try:
        result = await run_in_threadpool(ingestor.ingest, batch.model_dump(), idempotency_key, raw)
    except TooManyRows as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except BatchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return IngestResponse.model_validate(result, from_attributes=True)


@router.get("/ingest/status", response_model=IngestStatus, responses=problems(401))
def ingest_status(request: Request, _: AnyKey) -> IngestStatus:
    """The last committed batch, the last one the live scores include, and the worker's error
    (when it runs inside this server)."""
    ingestor: Ingestor | None = request.app.state.ingestor
    if ingestor is None:
        return IngestStatus(
            enabled=False, committed=0, rescored=0, pending=0, as_of=None, error=None
        )
    backlog = Backlog(request.app.state.store, ingestor.store)
    committed, rescored = ingestor.store.last_sequence(), backlog.rescored()
    worker: RescoringWorker | None = request.app.state.worker
    with request.app.state.store.session() as session:
        latest = HealthRepository(session).latest_date()
    return IngestStatus(
        enabled=True,
        committed=committed,
        rescored=rescored,
        pending=max(0, committed - rescored),
        as_of=latest.isoformat() if latest is not None else None,
        error=worker.state.error if worker is not None else None,
    )


def _behind(backlog: Backlog, limits: IngestSettings) -> str | None:
    """How far re-scoring is behind, when past the limits of the settings (back-pressure)."""
    waiting = backlog.pending()
    if waiting > limits.queue_batches:
        return f"{waiting} batches behind"
    lag = backlog.lag()
    if lag > limits.max_lag_seconds:
        return f"{lag:.0f} s behind"
    return None


def _ingestion(request: Request) -> Ingestor:
    ingestor: Ingestor | None = request.app.state.ingestor
    if ingestor is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "this server does not ingest: start it with `vitals serve --data DIR`",
        )
    return ingestor
