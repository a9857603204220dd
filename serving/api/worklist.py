"""The CS worklist: one scored date's accounts, filtered, sorted, in keyset-paginated pages.

A page is ordered by the sort key, then ``account_id``; its cursor is the last row's key and id
(base64 JSON), so the next page starts strictly after it whatever was inserted meanwhile. The
cursor also pins the date (and the reference date of score changes), so paging through a list
is stable while a new scoring run publishes. Missing revenue at risk sorts and filters as 0, and
so do a missing risk curve and renewal revenue at risk (scores of a model saved before the curve).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, null, or_, select
from sqlalchemy.orm import Session, aliased

from vitals.serving.api.schemas import SortKey
from vitals.serving.store import HealthRepository, HealthScore
from vitals.serving.store.schema import AccountHierarchy

Order = Literal["asc", "desc"]
_MISSING_AS_ZERO = ("risk_30d", "risk_90d", "risk_180d", "risk_365d", "renewal_revenue_at_risk")
NATURAL_ORDER: dict[str, Order] = {
    "health_score": "asc",  # least healthy first
    "revenue_at_risk": "desc",
    "churn_probability": "desc",
    "score_change": "asc",  # biggest fall first
    "risk_30d": "desc",
    "risk_90d": "desc",
    "risk_180d": "desc",
    "risk_365d": "desc",
    "renewal_revenue_at_risk": "desc",
}


class CursorError(ValueError):
    """A cursor that is not one this API issued for the same sort."""


@dataclass(frozen=True)
class WorklistQuery:
    """What the client asked for (see ``GET /v1/accounts``)."""

    bands: list[str]
    profiles: list[str]
    parent_id: str | None
    min_revenue_at_risk: float | None
    change_days: int | None
    min_change: float | None
    max_change: float | None
    sort: SortKey
    order: Order | None
    limit: int
    as_of: date | None
    cursor: str | None
    under: str | None = None  # keep every account below this one, at any depth


@dataclass(frozen=True)
class Page:
    """Rows of one page: ``(score row, score change or None)``, and the next cursor."""

    as_of: date | None
    reference_date: date | None
    rows: list[tuple[HealthScore, float | None]]
    next_cursor: str | None


def worklist_page(session: Session, q: WorklistQuery) -> Page:
    """One page of the worklist.

    Raises:
        CursorError: a malformed cursor, or one issued for another sort or order.
    """
    order = q.order or NATURAL_ORDER[q.sort]
    position = _decode(q.cursor, q.sort, order) if q.cursor else None
    repo = HealthRepository(session)
    as_of = position["as_of"] if position else (q.as_of or repo.latest_date())
    if as_of is None:
        return Page(None, None, [], None)
    wants_change = q.sort == "score_change" or q.min_change is not None or q.max_change is not None
    reference = None
    if position:
        reference = position["reference"]
    elif q.change_days is not None:
        reference = repo.reference_date(as_of, q.change_days)
    if wants_change and reference is None:
        return Page(as_of, None, [], None)  # no earlier date to measure a change from

    then = aliased(HealthScore)
    change = (HealthScore.health_score - then.health_score).label("score_change")
    shown = change if reference is not None else null().label("score_change")
    query = select(HealthScore, shown).where(HealthScore.as_of == as_of)
    if reference is not None:
        query = query.outerjoin(
            then, (then.account_id == HealthScore.account_id) & (then.as_of == reference)
        )
    query = _filtered(session, query, q, as_of, change, wants_change)
    key = _sort_key(q.sort, change)
    if position:
        after = key > position["key"] if order == "asc" else key < position["key"]
        tie = and_(key == position["key"], HealthScore.account_id > position["id"])
        query = query.where(or_(after, tie))
    query = query.order_by(key.asc() if order == "asc" else key.desc(), HealthScore.account_id)
    found = session.execute(query.limit(q.limit + 1)).all()
    rows = [(r[0], None if r[1] is None else float(r[1])) for r in found[: q.limit]]
    cursor = None
    if len(found) > q.limit:
        last, last_change = rows[-1]
        value = _key_value(q.sort, last, last_change)
        cursor = _encode(as_of, reference, q.sort, order, value, last.account_id)
    return Page(as_of, reference, rows, cursor)


def _filtered(
    session: Session, query: Any, q: WorklistQuery, as_of: date, change: Any, wants_change: bool
) -> Any:
    if q.bands:
        query = query.where(HealthScore.band.in_(q.bands))
    if q.profiles:
        query = query.where(HealthScore.profile.in_(q.profiles))
    if q.parent_id is not None:
        query = query.where(HealthScore.parent_id == q.parent_id)
    if q.under is not None:
        query = query.where(HealthScore.account_id.in_(_below(session, q.under, as_of)))
    if q.min_revenue_at_risk is not None:
        query = query.where(_risk() >= q.min_revenue_at_risk)
    if wants_change:
        query = query.where(change.is_not(None))
    if q.min_change is not None:
        query = query.where(change >= q.min_change)
    if q.max_change is not None:
        query = query.where(change <= q.max_change)
    return query


def _below(session: Session, account_id: str, as_of: date) -> Any:
    """Every account below ``account_id`` at any depth, as a subquery: from the stored account
    tree, or from the scores' parent links of ``as_of`` when that tree does not hold it (as the
    hierarchy endpoint does). A recursive query: no list of ids is sent, whatever the width."""
    stored = session.get(AccountHierarchy, account_id) is not None
    edges = (
        select(AccountHierarchy.account_id, AccountHierarchy.parent_id)
        if stored
        else select(HealthScore.account_id, HealthScore.parent_id).where(HealthScore.as_of == as_of)
    ).subquery()
    tree = select(edges.c.account_id).where(edges.c.parent_id == account_id).cte(recursive=True)
    # UNION (not UNION ALL) drops rows already found, so a corrupt cycle ends the recursion
    tree = tree.union(select(edges.c.account_id).where(edges.c.parent_id == tree.c.account_id))
    return select(tree.c.account_id)


def _risk() -> ColumnElement[float]:
    return func.coalesce(HealthScore.revenue_at_risk, 0.0)


def _sort_key(sort: SortKey, change: Any) -> Any:
    if sort == "score_change":
        return change
    if sort == "revenue_at_risk":
        return _risk()
    if sort in _MISSING_AS_ZERO:
        return func.coalesce(getattr(HealthScore, sort), 0.0)
    return getattr(HealthScore, sort)


def _key_value(sort: SortKey, row: HealthScore, change: float | None) -> float:
    if sort == "score_change":
        assert change is not None  # rows without a change are filtered out for this sort
        return change
    if sort == "revenue_at_risk" or sort in _MISSING_AS_ZERO:
        return getattr(row, sort) or 0.0
    return float(getattr(row, sort))


def _encode(
    as_of: date, reference: date | None, sort: str, order: str, key: float, account_id: str
) -> str:
    payload = {
        "d": as_of.isoformat(),
        "r": reference and reference.isoformat(),
        "s": sort,
        "o": order,
        "k": key,
        "i": account_id,
    }
    text = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode(cursor: str, sort: str, order: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        position = {
            "as_of": date.fromisoformat(data["d"]),
            "reference": date.fromisoformat(data["r"]) if data["r"] else None,
            "key": float(data["k"]),
            "id": str(data["i"]),
        }
        issued_for = (data["s"], data["o"])
        if not math.isfinite(position["key"]):
            raise ValueError("not a finite key")
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise CursorError("cursor is not one this API issued: start again without it") from None
    if issued_for != (sort, order):
        raise CursorError(
            f"cursor was issued for sort={issued_for[0]} order={issued_for[1]}: keep them the "
            "same while paging"
        )
    return position
