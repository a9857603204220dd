"""What a finished run reports: accounts per band, revenue at risk, biggest movers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from vitals.serving.store import BandSummary, HealthRepository, ScoreChange, ScoringRun

MOVERS = 5


@dataclass(frozen=True)
class RunSummary:
    """A published run, seen from the store.

    Attributes:
        run_id: the run's id in ``scoring_runs``.
        kind: ``score`` or ``backfill``.
        model_uri: the model loaded.
        model_version: the version stored with the scores.
        engine: ``duckdb`` or ``spark``.
        dates: the as-of dates scored.
        n_scores: scores published.
        as_of: the date summarised (the run's last).
        bands: accounts, contract value and revenue at risk per band on ``as_of``.
        reference: the stored date the movers are compared with (``None``: no earlier scores).
        fallers: largest score falls since ``reference``.
        risers: largest score rises since ``reference``.
        unseen: event types and product features in the data that the model does not count
            one by one (new since training), by column.
    """

    run_id: int
    kind: str
    model_uri: str
    model_version: str
    engine: str
    dates: list[date]
    n_scores: int
    as_of: date
    bands: list[BandSummary]
    reference: date | None
    fallers: list[ScoreChange]
    risers: list[ScoreChange]
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def revenue_at_risk(self) -> float:
        """Sum of churn probability x contract value over the accounts on ``as_of``."""
        return sum(b.revenue_at_risk for b in self.bands)


def summarize(session: Session, run_id: int, movers: int = MOVERS) -> RunSummary:
    """Summarise a published run from the store.

    Args:
        session: a session on the store.
        run_id: the run.
        movers: fallers and risers listed.
    """
    run = session.scalars(select(ScoringRun).where(ScoringRun.id == run_id)).one()
    repository = HealthRepository(session)
    dates = [d for d in repository.dates() if run.first_as_of <= d <= run.last_as_of]
    as_of = run.last_as_of
    reference = repository.previous_date(as_of)
    fallers = risers = []
    if reference is not None:
        fallers = [
            c
            for c in repository.score_changes(as_of, reference, limit=movers, falling=True)
            if c.change < 0
        ]
        risers = [
            c
            for c in repository.score_changes(as_of, reference, limit=movers, falling=False)
            if c.change > 0
        ]
    return RunSummary(
        run_id=run.id,
        kind=run.kind,
        model_uri=run.model_uri,
        model_version=run.model_version,
        engine=run.engine,
        dates=dates,
        n_scores=run.n_scores,
        as_of=as_of,
        bands=repository.band_summary(as_of),
        reference=reference,
        fallers=fallers,
        risers=risers,
    )
