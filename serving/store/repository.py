"""Read queries on the health store: what the score summary and the API read.

The live tables hold, for each ``as_of``, the rows of the one run that last published it (a run
replaces its whole date window), so an (account, as_of) pair has one score whatever its model
version. Queries run on a SQLAlchemy :class:`~sqlalchemy.orm.Session` and return ORM rows or
small frozen records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from vitals.serving.store.schema import HealthScore, ParentHealth, ScoringRun

WORKLIST_ORDER = {
    "health_score": (HealthScore.health_score.asc(), HealthScore.account_id),
    "revenue_at_risk": (HealthScore.revenue_at_risk.desc(), HealthScore.account_id),
    "churn_probability": (HealthScore.churn_probability.desc(), HealthScore.account_id),
}


@dataclass(frozen=True)
class BandSummary:
    """Accounts, contract value and revenue at risk of one band on one date."""

    band: str
    accounts: int
    contract_value: float
    revenue_at_risk: float


@dataclass(frozen=True)
class ScoreChange:
    """One account's score at two dates."""

    account_id: str
    score_then: float
    score_now: float
    band_then: str
    band_now: str

    @property
    def change(self) -> float:
        """Score now minus score then, in health points."""
        return self.score_now - self.score_then


class HealthRepository:
    """Queries on the live health tables.

    Args:
        session: an open session on the store.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def dates(self) -> list[date]:
        """Every ``as_of`` with scores, ascending."""
        query = select(HealthScore.as_of).distinct().order_by(HealthScore.as_of)
        return list(self.session.scalars(query))

    def latest_date(self) -> date | None:
        """The newest ``as_of`` with scores (``None`` in an empty store)."""
        return self.session.scalar(select(func.max(HealthScore.as_of)))

    def reference_date(self, as_of: date, days: int) -> date | None:
        """The newest scored date at least ``days`` before ``as_of`` (for "change over N days")."""
        if (as_of - date.min).days < days:
            return None  # before the first day a date can hold: nothing was scored then
        limit = as_of - timedelta(days=days)
        return self.session.scalar(
            select(func.max(HealthScore.as_of)).where(HealthScore.as_of <= limit)
        )

    def previous_date(self, as_of: date) -> date | None:
        """The newest scored date strictly before ``as_of``."""
        return self.session.scalar(
            select(func.max(HealthScore.as_of)).where(HealthScore.as_of < as_of)
        )

    def latest(self, account_ids: list[str] | None = None) -> list[HealthScore]:
        """Each account's newest score (optionally only the given accounts), by account id."""
        newest = select(HealthScore.account_id, func.max(HealthScore.as_of).label("as_of"))
        if account_ids is not None:
            newest = newest.where(HealthScore.account_id.in_(account_ids))
        newest = newest.group_by(HealthScore.account_id).subquery()
        query = (
            select(HealthScore)
            .join(
                newest,
                (HealthScore.account_id == newest.c.account_id)
                & (HealthScore.as_of == newest.c.as_of),
            )
            .order_by(HealthScore.account_id)
        )
        return list(self.session.scalars(query))

    def history(
        self, account_id: str, start: date | None = None, end: date | None = None
    ) -> list[HealthScore]:
        """One account's scores from ``start`` to ``end`` (optional, inclusive), oldest first."""
        query = select(HealthScore).where(HealthScore.account_id == account_id)
        query = _window(query, HealthScore.as_of, start, end)
        return list(self.session.scalars(query.order_by(HealthScore.as_of)))

    def score_series(
        self, account_ids: list[str], start: date, end: date
    ) -> dict[str, list[tuple[date, float]]]:
        """Several accounts' health scores from ``start`` to ``end`` (inclusive), oldest first.

        One point per account and date: the newest model's where two versions scored a date.
        """
        query = (
            select(HealthScore.account_id, HealthScore.as_of, HealthScore.health_score)
            .where(HealthScore.account_id.in_(account_ids))
            .where(HealthScore.as_of >= start, HealthScore.as_of <= end)
            .order_by(HealthScore.account_id, HealthScore.as_of, HealthScore.run_id)
        )
        series: dict[str, dict[date, float]] = {}
        for account_id, as_of, score in self.session.execute(query):
            series.setdefault(account_id, {})[as_of] = score  # a later run wins its date
        return {account: list(points.items()) for account, points in series.items()}

    def scores_on(
        self,
        as_of: date,
        *,
        bands: list[str] | None = None,
        profiles: list[str] | None = None,
        parent_id: str | None = None,
        min_revenue_at_risk: float | None = None,
        order_by: str = "health_score",
        limit: int | None = None,
    ) -> list[HealthScore]:
        """Scores of one date, filtered and ordered like a worklist.

        Args:
            as_of: the date.
            bands: keep these bands only.
            profiles: keep these health profiles only.
            parent_id: keep the direct children of this account only.
            min_revenue_at_risk: keep accounts with at least this revenue at risk.
            order_by: ``health_score`` (worst first), ``revenue_at_risk`` or
                ``churn_probability`` (largest first).
            limit: at most this many rows.

        Raises:
            ValueError: an unknown ``order_by``.
        """
        if order_by not in WORKLIST_ORDER:
            raise ValueError(f"order_by must be one of {sorted(WORKLIST_ORDER)}, got {order_by!r}")
        query = select(HealthScore).where(HealthScore.as_of == as_of)
        if bands:
            query = query.where(HealthScore.band.in_(bands))
        if profiles:
            query = query.where(HealthScore.profile.in_(profiles))
        if parent_id is not None:
            query = query.where(HealthScore.parent_id == parent_id)
        if min_revenue_at_risk is not None:
            query = query.where(HealthScore.revenue_at_risk >= min_revenue_at_risk)
        query = query.order_by(*WORKLIST_ORDER[order_by]).limit(limit)
        return list(self.session.scalars(query))

    def band_summary(self, as_of: date) -> list[BandSummary]:
        """Accounts, contract value and revenue at risk per band on one date."""
        query = (
            select(
                HealthScore.band,
                func.count(),
                func.coalesce(func.sum(HealthScore.contract_value), 0.0),
                func.coalesce(func.sum(HealthScore.revenue_at_risk), 0.0),
            )
            .where(HealthScore.as_of == as_of)
            .group_by(HealthScore.band)
            .order_by(HealthScore.band)
        )
        return [
            BandSummary(b, int(n), float(v), float(r)) for b, n, v, r in self.session.execute(query)
        ]

    def score_changes(
        self, as_of: date, reference: date, *, limit: int | None = None, falling: bool = True
    ) -> list[ScoreChange]:
        """Accounts scored on both dates, biggest fall (or rise) of score first.

        Args:
            as_of: the later date.
            reference: the earlier date.
            limit: at most this many accounts.
            falling: ``True`` for the biggest falls first, ``False`` for the biggest rises.
        """
        then = aliased(HealthScore)
        change = HealthScore.health_score - then.health_score
        query = (
            select(
                HealthScore.account_id,
                then.health_score,
                HealthScore.health_score,
                then.band,
                HealthScore.band,
            )
            .join(then, then.account_id == HealthScore.account_id)
            .where(HealthScore.as_of == as_of, then.as_of == reference)
            .order_by(change.asc() if falling else change.desc(), HealthScore.account_id)
            .limit(limit)
        )
        return [ScoreChange(*row) for row in self.session.execute(query)]

    def rollups(
        self, as_of: date, weighting: str = "count", parent_ids: list[str] | None = None
    ) -> list[ParentHealth]:
        """Parent roll-ups of one date and weighting, least healthy first."""
        query = select(ParentHealth).where(
            ParentHealth.as_of == as_of, ParentHealth.weighting == weighting
        )
        if parent_ids is not None:
            query = query.where(ParentHealth.parent_id.in_(parent_ids))
        return list(
            self.session.scalars(query.order_by(ParentHealth.health, ParentHealth.parent_id))
        )

    def parent_history(
        self,
        parent_id: str,
        weighting: str = "count",
        start: date | None = None,
        end: date | None = None,
    ) -> list[ParentHealth]:
        """One parent's roll-ups over time, oldest first."""
        query = select(ParentHealth).where(
            ParentHealth.parent_id == parent_id, ParentHealth.weighting == weighting
        )
        query = _window(query, ParentHealth.as_of, start, end)
        return list(self.session.scalars(query.order_by(ParentHealth.as_of)))

    def runs(self, limit: int = 20) -> list[ScoringRun]:
        """The latest runs, newest first."""
        query = select(ScoringRun).order_by(ScoringRun.id.desc()).limit(limit)
        return list(self.session.scalars(query))


def _window(query: Select, column: object, start: date | None, end: date | None) -> Select:
    if start is not None:
        query = query.where(column >= start)  # type: ignore[operator]
    if end is not None:
        query = query.where(column <= end)  # type: ignore[operator]
    return query
