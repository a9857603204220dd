"""The console's forms on the account page: a CSM's rating, and a band override (set or end).

Each needs a session whose key has the ``annotate`` scope, and a request from the console's own
pages: a form posted from another site is refused (its ``Origin`` names another host; the
session cookie is ``SameSite=Lax`` besides). After a change the browser goes back to the account
page, which says what was saved or what was wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vitals.serving.api.deps import StoreDep
from vitals.serving.api.routers.people import author
from vitals.serving.console.session import ConsoleUser
from vitals.serving.people.overrides import (
    OverrideConflict,
    OverrideError,
    end_override,
    save_override,
)
from vitals.serving.people.sentiment import RatingNotStored, add_sentiment

router = APIRouter(prefix="/console/accounts/{account_id}", include_in_schema=False)


def _checked(request: Request, user: ConsoleUser) -> str:
    """The author of a change from the console (403: no annotate scope, or another site)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "forms are accepted from this console only")
    if not user.allows("annotate"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this key lacks the 'annotate' scope")
    return author(user)


def _back(account_id: str, notice: str) -> Response:
    target = f"/console/accounts/{quote(account_id, safe='')}?notice={quote(notice)}#people"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/sentiment")
async def rate(
    request: Request,
    user: ConsoleUser,
    account_id: str,
    rating: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record a rating (it joins the data's sentiment table, and the audit log)."""
    who = _checked(request, user)
    ingestor = request.app.state.ingestor
    if ingestor is None:
        return _back(account_id, "Ratings need the server to be started with a data directory.")
    try:
        await run_in_threadpool(
            lambda: add_sentiment(
                ingestor,
                request.app.state.store,
                account_id,
                rating=rating,
                note=note.strip() or None,
                author=who,
                now=datetime.now(UTC),
            )
        )
    except OverrideError as exc:
        return _back(account_id, f"Not saved: {exc}")
    except RatingNotStored as exc:
        return _back(account_id, f"Audited, not stored yet: {exc}")
    return _back(account_id, f"Rating {rating} saved.")


@router.post("/override")
def override(
    request: Request,
    user: ConsoleUser,
    store: StoreDep,
    account_id: str,
    band: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=1000)],
    days: Annotated[int, Form(ge=1, le=365)] = 30,
) -> Response:
    """Override the account's band for ``days`` days (audited)."""
    who = _checked(request, user)
    now = datetime.now(UTC)
    try:
        save_override(
            store,
            account_id,
            band=band,
            reason=reason,
            author=who,
            now=now,
            expires_at=now + timedelta(days=days),
        )
    except (OverrideError, OverrideConflict) as exc:
        return _back(account_id, f"Not saved: {exc}")
    return _back(account_id, f"Band overridden to {band} for {days} days.")


@router.post("/override/end")
def end(request: Request, user: ConsoleUser, store: StoreDep, account_id: str) -> Response:
    """End the account's override now (audited)."""
    who = _checked(request, user)
    with store.session() as session:
        ended = end_override(session, account_id, author=who, now=datetime.now(UTC))
        session.commit()
    return _back(account_id, "Override ended." if ended else "No override was in force.")
