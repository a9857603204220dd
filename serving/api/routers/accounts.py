"""``/v1/accounts``: the CS worklist, one account's health and history, and its hierarchy."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError

from vitals.models.frames import InputError
from vitals.serving.api.account_views import (
    account_detail,
    summary,
    with_next_steps,
    with_overrides,
)
from vitals.serving.api.deps import ModelDep, ReadKey, StoreDep, playbook_of
from vitals.serving.api.hierarchy import account_hierarchy
from vitals.serving.api.hierarchy_schemas import HierarchyResponse
from vitals.serving.api.parent_views import parent_change_view
from vitals.serving.api.schemas import (
    AccountDetail,
    AccountId,
    Band,
    SortKey,
    Weighting,
    WorklistPage,
    problems,
)
from vitals.serving.api.worklist import CursorError, Order, WorklistQuery, worklist_page

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

AccountPath = Annotated[AccountId, Path(description="the account id")]
Since = Annotated[
    str,
    Query(
        pattern=r"^[1-9][0-9]{0,3}d$",
        description="explain the change versus this many days ago, e.g. 30d",
        examples=["30d"],
    ),
]


@router.get("", response_model=WorklistPage, responses=problems(401, 403, 503))
def list_accounts(
    _: ReadKey,
    store: StoreDep,
    band: Annotated[list[Band] | None, Query(description="keep these bands")] = None,
    profile: Annotated[
        list[Annotated[str, Query(max_length=128)]] | None,
        Query(description="keep these health profiles"),
    ] = None,
    parent: Annotated[
        str | None, Query(max_length=128, description="keep the direct children of this account")
    ] = None,
    under: Annotated[
        str | None,
        Query(max_length=128, description="keep every account below this one, at any depth"),
    ] = None,
    min_revenue_at_risk: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    change_days: Annotated[
        int | None, Query(ge=1, le=3650, description="measure score changes over N days")
    ] = None,
    min_change: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    max_change: Annotated[
        float | None,
        Query(allow_inf_nan=False, description="e.g. -5: fell by at least 5 points"),
    ] = None,
    sort: Annotated[SortKey, Query()] = "health_score",
    order: Annotated[
        Order | None, Query(description="default: worst first for every sort key")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    as_of: Annotated[date | None, Query(description="a scored date (default: the latest)")] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> WorklistPage:
    """The CS worklist of one scored date, least healthy first by default.

    Filters combine (AND). Score changes need ``change_days``; sorting or filtering by them keeps
    only accounts scored on both dates. Pass ``next_cursor`` back as ``cursor`` (with the same
    sort and order) for the next page.
    """
    if (sort == "score_change" or min_change is not None or max_change is not None) and (
        change_days is None and cursor is None
    ):
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("query", "change_days"),
                    "msg": "score changes need change_days",
                }
            ]
        )
    query = WorklistQuery(
        band or [],
        profile or [],
        parent,
        min_revenue_at_risk,
        change_days,
        min_change,
        max_change,
        sort,
        order,
        limit,
        as_of,
        cursor,
        under,
    )
    try:
        with store.session() as session:
            page = worklist_page(session, query)
            items = with_overrides(session, [summary(row, change) for row, change in page.rows])
    except CursorError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc)}]
        ) from None
    return WorklistPage(
        as_of=page.as_of,
        reference_date=page.reference_date,
        items=items,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{account_id}", response_model=AccountDetail, responses=problems(401, 403, 404, 409, 503)
)
def get_account(
    request: Request,
    _: ReadKey,
    account_id: AccountPath,
    store: StoreDep,
    served: ModelDep,
    since: Since = "30d",
    history_days: Annotated[int, Query(ge=1, le=3650)] = 365,
    reasons: Annotated[int, Query(ge=1, le=50, description="change reasons listed")] = 5,
    weighting: Annotated[
        Weighting, Query(description="how a parent's change weighs its accounts")
    ] = "count",
) -> AccountDetail:
    """Latest health with reasons, the stored history, and why the score changed since then.

    For a parent, ``parent_change`` splits its health change into its direct children's moves
    (band moved, weight moved, joined, left), which add up to the change; the children that
    moved it most carry their own reasons for change.
    """
    since_days = int(since[:-1])
    with store.session() as session:
        detail = account_detail(
            session,
            served,
            account_id,
            since_days=since_days,
            history_days=history_days,
            top_k=reasons,
        )
        if detail is not None and detail.account is not None:
            with_overrides(session, [detail.account])
            with_next_steps(detail.account, playbook_of(request, served))
        try:
            parent = parent_change_view(
                session,
                served,
                account_id,
                since_days=since_days,
                weighting=weighting,
                top_k=reasons,
            )
        except InputError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if detail is None and parent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scores for account {account_id!r}")
    if detail is None:
        return AccountDetail(account=None, history=[], change=None, parent_change=parent)
    return detail.model_copy(update={"parent_change": parent})


@router.get(
    "/{account_id}/hierarchy",
    response_model=HierarchyResponse,
    responses=problems(401, 403, 404, 503),
)
def get_hierarchy(
    _: ReadKey,
    account_id: AccountPath,
    store: StoreDep,
    weighting: Annotated[Weighting, Query()] = "count",
) -> HierarchyResponse:
    """The tree under the account with rolled-up health, revenue at risk and drivers per level."""
    with store.session() as session:
        tree = account_hierarchy(session, account_id, weighting)
    if tree is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scores for account {account_id!r}")
    return tree
