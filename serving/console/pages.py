"""``/console``: the CS console's pages (Jinja2, server-rendered, with htmx for paging and toggles).

Every page but the sign-in form needs a session (:mod:`vitals.serving.console.session`); a
request without one is sent to sign in and then back. Pages read the same store and model as the
JSON API, through the same functions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from vitals.serving.api.deps import ModelDep, StoreDep, playbook_of
from vitals.serving.api.hierarchy import account_hierarchy
from vitals.serving.api.routers.drift import LimitsDep, MonitorDep
from vitals.serving.api.routers.model import describe
from vitals.serving.api.routers.people import recent_rows
from vitals.serving.api.schemas import Weighting
from vitals.serving.api.worklist import CursorError
from vitals.serving.console.account_view import account_page
from vitals.serving.console.model_view import METRICS, PLOTS, RunArtifactCache
from vitals.serving.console.session import (
    COOKIE,
    ConsoleUser,
    SessionsDep,
    safe_next,
)
from vitals.serving.console.worklist_view import BANDS, SORTS, WorklistFilters, worklist_rows
from vitals.serving.store import HealthRepository

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)
Html = HTMLResponse


def _state(request: Request, name: str, make: Any) -> Any:
    """An app-wide object of the console, made on first use."""
    found = getattr(request.app.state, name, None)
    if found is None:
        found = make()
        setattr(request.app.state, name, found)
    return found


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


@router.get("/login", response_class=Html)
def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _page(request, "login.html", next=safe_next(next), error=None)


@router.post("/login", response_class=Html)
async def sign_in(
    request: Request,
    sessions: SessionsDep,
    key: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/console",
) -> Response:
    """Check the API key; start a session and go on, or show the form again with why not."""
    info = await run_in_threadpool(request.app.state.keys.verify, key.strip())
    if info is None or not info.allows("read"):
        error = "That key is unknown or revoked." if info is None else "That key lacks read scope."
        return _page(
            request, "login.html", status.HTTP_401_UNAUTHORIZED, next=safe_next(next), error=error
        )
    response = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    sessions.set_cookie(response, request, info)
    return response


@router.post("/logout")
def sign_out() -> Response:
    """End the session."""
    response = RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/console")
    return response


def _filters(
    sort: str, band: list[str] | None, profile: str | None, parent: str | None, fell: str | None
) -> WorklistFilters:
    if sort not in SORTS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown sort {sort!r}")
    if unknown := sorted(set(band or []) - set(BANDS)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown band(s) {unknown}")
    return WorklistFilters(
        sort=sort,
        bands=tuple(band or ()),
        profile=profile or None,
        parent=(parent or "").strip() or None,
        fell_by=_points(fell),
    )


def _points(text: str | None) -> float | None:
    """The "fell more than" field: empty is no filter, else 0 to 100 points."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 100:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"fell: expected a number of health points from 0 to 100, got {text!r}",
        )
    return value


Sort = Annotated[str, Query(max_length=32)]
Bands = Annotated[list[str] | None, Query()]
Text = Annotated[str | None, Query(max_length=128)]
Fell = Annotated[str | None, Query(max_length=16, description="points lost in 30 days")]
Cursor = Annotated[str | None, Query(max_length=1000)]


@router.get("", response_class=Html)
def worklist(
    request: Request,
    user: ConsoleUser,
    store: StoreDep,
    served: ModelDep,
    sort: Sort = "churn_probability",
    band: Bands = None,
    profile: Text = None,
    parent: Text = None,
    fell: Fell = None,
    cursor: Cursor = None,
) -> Response:
    """The worklist: accounts by risk, revenue at risk or score change, filtered, paged."""
    filters = _filters(sort, band, profile, parent, fell)
    page = _rows(request, store, filters, cursor)
    template = "worklist_rows.html" if request.headers.get("HX-Request") else "worklist.html"
    return _page(
        request,
        template,
        user=user,
        filters=filters,
        page=page,
        sorts=SORTS,
        bands=BANDS,
        horizon=served.model.feature_set_.horizon_days,
        profiles=sorted(served.model.profiles_),
        next_url=_next_url(request, page.next_cursor),
    )


def _next_url(request: Request, cursor: str | None) -> str | None:
    """This worklist's URL, at the page after this one."""
    if cursor is None:
        return None
    url = request.url.include_query_params(cursor=cursor)
    return f"{url.path}?{url.query}"


def _rows(request: Request, store: Any, filters: WorklistFilters, cursor: str | None) -> Any:
    size = request.app.state.settings.console.page_size
    try:
        with store.session() as session:
            return worklist_rows(session, filters, size, cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/accounts/{account_id}", response_class=Html)
def account(
    request: Request,
    user: ConsoleUser,
    store: StoreDep,
    served: ModelDep,
    account_id: str,
    since: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> Response:
    """One account: score history, reasons, change reasons, survival, activity, hierarchy."""
    with store.session() as session:
        playbook = playbook_of(request, served)
        found = account_page(session, served, recent_rows(request), account_id, since, playbook)
    if found is None:
        return _page(
            request, "missing.html", 404, user=user, what=f"No scores for account {account_id}."
        )
    horizon = served.model.feature_set_.horizon_days
    notice = request.query_params.get("notice")
    return _page(
        request,
        "account.html",
        user=user,
        page=found,
        horizon=horizon,
        can_annotate=user.allows("annotate"),
        rates=request.app.state.ingestor is not None,
        notice=notice[:300] if notice else None,
        bands=BANDS,
    )


@router.get("/hierarchy", response_class=Html)
def hierarchy_index(request: Request, user: ConsoleUser, store: StoreDep) -> Response:
    """The top-level parents, least healthy first."""
    with store.session() as session:
        repo = HealthRepository(session)
        as_of = repo.latest_date()
        parents = repo.rollups(as_of) if as_of else []
    roots = [p for p in parents if p.depth == 0] or parents
    return _page(request, "hierarchy_index.html", user=user, as_of=as_of, parents=roots)


@router.get("/hierarchy/{account_id}", response_class=Html)
def hierarchy(
    request: Request,
    user: ConsoleUser,
    store: StoreDep,
    account_id: str,
    weighting: Annotated[Weighting, Query()] = "count",
) -> Response:
    """The tree under an account with rolled-up health; count or contract-value weighting."""
    with store.session() as session:
        tree = account_hierarchy(session, account_id, weighting)
    if tree is None:
        return _page(
            request, "missing.html", 404, user=user, what=f"No scores for account {account_id}."
        )
    template = "hierarchy_tree.html" if request.headers.get("HX-Request") else "hierarchy.html"
    return _page(request, template, user=user, tree=tree, weighting=weighting)


@router.get("/model", response_class=Html)
def model(
    request: Request,
    user: ConsoleUser,
    store: StoreDep,
    served: ModelDep,
    monitor: MonitorDep,
    limits: LimitsDep,
) -> Response:
    """The served model: version, training window, evaluation report and plots, drift."""
    artifacts = _state(request, "console_runs", RunArtifactCache).of(served)
    drift = monitor.report(store, served, limits).to_dict(bins=False)
    return _page(
        request,
        "model.html",
        user=user,
        info=describe(served),
        artifacts=artifacts,
        metrics=METRICS,
        plots={name: text for name, text in PLOTS.items() if name in artifacts.plots},
        drift=drift,
    )


@router.get("/model/plots/{name}")
def model_plot(request: Request, _: ConsoleUser, served: ModelDep, name: str) -> Response:
    """A plot of the served model's training run (PNG)."""
    artifacts = _state(request, "console_runs", RunArtifactCache).of(served)
    if name not in artifacts.plots:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no plot {name!r} in the model's run")
    return Response(
        artifacts.plots[name],
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )
