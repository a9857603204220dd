"""What people add beside the model: CSM sentiment, band overrides, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from vitals.serving.api.auth import KeyInfo
from vitals.serving.api.deps import AdminKey, ReadKey, StoreDep, require
from vitals.serving.api.people_schemas import (
    AuditItem,
    AuditPage,
    BandOverrideView,
    OverrideIn,
    OverrideState,
    SentimentEntry,
    SentimentIn,
    SentimentList,
)
from vitals.serving.api.schemas import AccountId, problems
from vitals.serving.ingest.recent import RecentActivity
from vitals.serving.people.audit import AuditQuery, audit_page
from vitals.serving.people.overrides import (
    OverrideConflict,
    OverrideError,
    active_overrides,
    end_override,
    expire_due,
    save_override,
)
from vitals.serving.people.sentiment import RatingNotStored, add_sentiment
from vitals.serving.store import HealthRepository, HealthStore

router = APIRouter(tags=["people"])

AnnotateKey = Annotated[KeyInfo, Depends(require("annotate"))]
AccountPath = Annotated[AccountId, Path(description="the account id")]


def author(key: KeyInfo) -> str:
    """Who a change is recorded as: the key's name, else its id."""
    return key.name or f"key {key.id}"


def refused(field: str, message: str, where: str = "body") -> RequestValidationError:
    """A 422 naming the field at fault."""
    return RequestValidationError([{"type": "value_error", "loc": (where, field), "msg": message}])


def refusal(exc: OverrideError) -> RequestValidationError:
    """The 422 of a change refused: the account is in the path, everything else in the body."""
    return refused(exc.field, str(exc), "path" if exc.field == "account_id" else "body")


def recent_rows(request: Request) -> RecentActivity:
    """The app's reader of the served data's recent rows, made on first use."""
    state = request.app.state
    reader = getattr(state, "recent_rows", None)
    if reader is None:
        reader = state.recent_rows = RecentActivity(state.settings.ingest.data_dir)
    return reader


@router.post(
    "/v1/accounts/{account_id}/sentiment",
    response_model=SentimentEntry,
    status_code=status.HTTP_201_CREATED,
    responses={
        **problems(401, 403, 503),
        404: {"description": "this server has no data directory"},
    },
)
async def rate_account(
    request: Request, key: AnnotateKey, account_id: AccountPath, entry: SentimentIn
) -> SentimentEntry:
    """Record a CSM's rating (red, yellow or green) and note; it joins the data's `sentiment`
    table, so the features see it like the customer's own rows, and the audit log records it."""
    ingestor = request.app.state.ingestor
    if ingestor is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "ratings join the data directory: start the server with `vitals serve --data DIR`",
        )
    try:
        row = await run_in_threadpool(
            lambda: add_sentiment(
                ingestor,
                request.app.state.store,
                account_id,
                rating=entry.rating,
                note=entry.note,
                author=author(key),
                now=datetime.now(UTC),
            )
        )
    except OverrideError as exc:
        raise refusal(exc) from None
    except RatingNotStored as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return SentimentEntry.model_validate(row)


@router.get(
    "/v1/accounts/{account_id}/sentiment",
    response_model=SentimentList,
    responses={**problems(401, 403), 404: {"description": "this server has no data directory"}},
)
def ratings(
    request: Request,
    _: ReadKey,
    account_id: AccountPath,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SentimentList:
    """The account's ratings, newest first (from the data directory, with those given here)."""
    _known(store, account_id)
    found = recent_rows(request).of(account_id, limit)
    if found.unavailable:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ratings: {found.unavailable}")
    return SentimentList(items=[SentimentEntry.model_validate(r) for r in found.sentiment])


def _known(store: HealthStore, account_id: str) -> None:
    """Refuse (422) an account the store has no scores of."""
    with store.session() as session:
        if not HealthRepository(session).latest([account_id]):
            raise refused("account_id", f"no scores for account {account_id!r}", "path")


def _state(store: HealthStore, account_id: str) -> OverrideState:
    """The account's override in force now, as the API shows it."""
    with store.session() as session:
        row = active_overrides(session, [account_id], datetime.now(UTC)).get(account_id)
        view = None if row is None else BandOverrideView.model_validate(row, from_attributes=True)
    return OverrideState(account_id=account_id, override=view)


@router.put(
    "/v1/accounts/{account_id}/override",
    response_model=OverrideState,
    responses={**problems(401, 403, 503), 409: {"description": "saved at the same moment"}},
)
def override_band(
    key: AnnotateKey, account_id: AccountPath, store: StoreDep, change: OverrideIn
) -> OverrideState:
    """Override the account's band, with a reason, until `expires_at` (default 30 days): shown
    beside the model's band everywhere, never replacing the stored score, never used in training.
    A new override replaces the one in force; both changes go to the audit log."""
    try:
        save_override(
            store,
            account_id,
            band=change.band,
            reason=change.reason,
            author=author(key),
            now=datetime.now(UTC),
            expires_at=change.expires_at,
        )
    except OverrideError as exc:
        raise refusal(exc) from None
    except OverrideConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _state(store, account_id)


@router.delete(
    "/v1/accounts/{account_id}/override",
    response_model=OverrideState,
    responses={**problems(401, 403, 503), 404: {"description": "no override in force"}},
)
def end_band_override(key: AnnotateKey, account_id: AccountPath, store: StoreDep) -> OverrideState:
    """End the account's override now (audited)."""
    _known(store, account_id)
    with store.session() as session:
        ended = end_override(session, account_id, author=author(key), now=datetime.now(UTC))
        session.commit()
    if not ended:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no override in force for {account_id!r}")
    return _state(store, account_id)


@router.get(
    "/v1/accounts/{account_id}/override",
    response_model=OverrideState,
    responses=problems(401, 403, 503),
)
def band_override(_: ReadKey, account_id: AccountPath, store: StoreDep) -> OverrideState:
    """The account's override in force, if any."""
    _known(store, account_id)
    return _state(store, account_id)


@router.get("/v1/audit", response_model=AuditPage, responses=problems(401, 403, 503))
def audit(
    _: AdminKey,
    store: StoreDep,
    account: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[AwareDatetime | None, Query(description="entries at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="entries before")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="next_after of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Every sentiment entry and override change (create, change, end, expire), in the order
    they were appended: who, when, what, before and after (admin). The log is append-only: no
    endpoint edits or deletes an entry. An expiry is appended when the server next looks (before
    this list, or the account's next change), dated at the expiry: to follow the log, page with
    `after`, which never misses an entry, rather than `since`."""
    utc = [None if t is None else t.astimezone(UTC) for t in (since, until)]
    query = AuditQuery(account, *utc, after, limit)
    with store.session() as session:
        if expire_due(session, datetime.now(UTC)):  # the log shows every expiry up to now
            session.commit()
        rows, next_after = audit_page(session, query)
        items = [AuditItem.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_after=next_after)
