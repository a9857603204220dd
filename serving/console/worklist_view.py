"""The worklist page's rows: the API's keyset-paged worklist, with sparklines and a top reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

from sqlalchemy.orm import Session

from vitals.serving.api.schemas import Band
from vitals.serving.api.worklist import WorklistQuery, worklist_page
from vitals.serving.console.charts import Sparkline, sparkline
from vitals.serving.people.overrides import active_overrides
from vitals.serving.store import BandOverride, HealthRepository

SORTS = {
    "churn_probability": "Highest churn risk",
    "revenue_at_risk": "Revenue at risk",
    "renewal_revenue_at_risk": "Revenue at risk by the renewal",
    "score_change": "Biggest fall (30 days)",
    "health_score": "Least healthy",
}
BANDS: tuple[str, ...] = get_args(Band)
CHANGE_DAYS = 30
SPARK_DAYS = 180


@dataclass(frozen=True)
class WorklistFilters:
    """What the worklist form asks for (every field optional but the sort)."""

    sort: str = "churn_probability"
    bands: tuple[str, ...] = ()
    profile: str | None = None
    parent: str | None = None  # every account below it, at any depth
    fell_by: float | None = None  # points lost over CHANGE_DAYS days

    def query(self, limit: int, cursor: str | None) -> WorklistQuery:
        """The API's worklist query for these filters."""
        return WorklistQuery(
            bands=list(self.bands),
            profiles=[self.profile] if self.profile else [],
            parent_id=None,
            under=self.parent or None,
            min_revenue_at_risk=None,
            change_days=CHANGE_DAYS,  # every row shows its change; only these filters need one
            min_change=None,
            max_change=-self.fell_by if self.fell_by is not None else None,
            sort=self.sort,  # type: ignore[arg-type]  # checked against SORTS by the route
            order=None,
            limit=limit,
            as_of=None,
            cursor=cursor,
        )


@dataclass(frozen=True)
class WorklistRow:
    """One account on the worklist."""

    account_id: str
    parent_id: str | None
    profile: str
    health_score: float
    band: str
    churn_probability: float
    revenue_at_risk: float | None
    score_change: float | None
    scorecard_score: float | None
    top_reason: str | None
    spark: Sparkline | None
    override: BandOverride | None


@dataclass(frozen=True)
class WorklistRows:
    """A page of rows, the scored date and the cursor of the next page."""

    as_of: str | None
    rows: list[WorklistRow]
    next_cursor: str | None


def worklist_rows(
    session: Session, filters: WorklistFilters, limit: int, cursor: str | None
) -> WorklistRows:
    """One page of the worklist, each row with its last 180 days of health.

    Raises:
        CursorError: a cursor this console did not issue for the same sort.
    """
    page = worklist_page(session, filters.query(limit, cursor))
    if page.as_of is None:
        return WorklistRows(None, [], None)
    start = page.as_of - timedelta(days=SPARK_DAYS)
    ids = [row.account_id for row, _ in page.rows]
    series = HealthRepository(session).score_series(ids, start, page.as_of) if ids else {}
    overrides = active_overrides(session, ids, datetime.now(UTC))
    rows = [
        WorklistRow(
            account_id=row.account_id,
            parent_id=row.parent_id,
            profile=row.profile,
            health_score=row.health_score,
            band=row.band,
            churn_probability=row.churn_probability,
            revenue_at_risk=row.revenue_at_risk,
            score_change=change,
            scorecard_score=getattr(row, "scorecard_score", None),
            top_reason=_top_reason(row.reasons),
            spark=sparkline(series.get(row.account_id, []), start, page.as_of),
            override=overrides.get(row.account_id),
        )
        for row, change in page.rows
    ]
    return WorklistRows(page.as_of.isoformat(), rows, page.next_cursor)


def _top_reason(reasons: list[dict[str, object]]) -> str | None:
    """The sentence of the reason costing the most health (reasons that lower it come first)."""
    lowering = [r for r in reasons if float(r.get("health_points") or 0) < 0]
    if not lowering:
        return None
    worst = min(lowering, key=lambda r: float(r.get("health_points") or 0))
    return str(worst.get("sentence") or worst.get("label") or worst.get("feature"))
