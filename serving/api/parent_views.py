"""A parent's health change since N days ago, split into its direct children's moves.

The split is :func:`vitals.models.rollup_change.parent_change`, with the model's band weights. It
reads the stored scores of the subtree at the latest scored date and at the newest scored date at
least N days before it. Each child's effect is its accounts' band moves, weight moves, joins and
leaves, and the effects add up exactly to the parent's change. The children that moved the parent
most also carry their own score change explained, as ``GET /v1/accounts/{id}`` explains it.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from vitals.models.rollup_change import parent_change
from vitals.serving.api.account_views import explained_change
from vitals.serving.api.hierarchy import chunks, scored_subtree
from vitals.serving.api.holder import ServingModel
from vitals.serving.api.schemas import ChildEffect, ParentChange, ScoreChange, Weighting
from vitals.serving.store import HealthRepository, HealthScore
from vitals.serving.store.features_table import read_latest_features, read_subtree

EXPLAINED_CHILDREN = 3


def parent_change_view(
    session: Session,
    served: ServingModel,
    parent_id: str,
    *,
    since_days: int,
    weighting: Weighting,
    top_k: int,
) -> ParentChange | None:
    """The parent's change since ``since_days`` ago (``None`` when the account has no children).

    Args:
        session: a session on the store.
        served: the model (band weights, and the children's change reasons).
        parent_id: the parent.
        since_days: compare with the newest scored date at least this many days back.
        weighting: ``count`` or ``contract_value``.
        top_k: change reasons listed per explained child.
    """
    repo = HealthRepository(session)
    as_of = repo.latest_date()
    if as_of is None:
        return None
    edges = read_subtree(session, parent_id) or scored_subtree(session, parent_id, as_of)
    if len(edges) < 2:
        return None
    reference = repo.reference_date(as_of, since_days)
    ids = [a for a, _ in edges]
    tree = pd.DataFrame(
        [(a, None if a == parent_id else p) for a, p in edges], columns=["account_id", "parent_id"]
    )
    now = _scores(session, ids, as_of)
    then = _scores(session, ids, reference) if reference else now.iloc[:0]
    split = parent_change(
        tree, then, now, parent_id, weighting=weighting, band_weights=served.model.band_weights
    )
    scored_then = set(then["account_id"])
    scored_now = {r.account_id: r for r in now.itertuples()}
    children = []
    for rank, row in enumerate(split.children.itertuples()):
        reasons = []
        child = scored_now.get(row.child_id)
        moved = rank < EXPLAINED_CHILDREN and row.health_points != 0.0
        if moved and reference and child and row.child_id in scored_then:
            stub = ScoreChange(
                since_days=since_days,
                reference_date=reference,
                score_then=None,
                score_now=child.health_score,
                score_change=None,
                band_then=None,
                band_now=child.band,
                explained=False,
            )
            vector = read_latest_features(session, [row.child_id]).get(row.child_id)
            explained = explained_change(
                session, served, vector, reference, stub, top_k, with_risk=False
            )
            reasons = explained.reasons
        children.append(
            ChildEffect(
                child_id=row.child_id,
                band_moved=row.band_moved,
                weight_moved=row.weight_moved,
                joined=row.joined,
                left=row.left,
                health_points=row.health_points,
                reasons=reasons,
            )
        )
    return ParentChange(
        weighting=weighting,
        reference_date=reference,
        as_of=as_of,
        health_then=_number(split.health_then),
        health_now=_number(split.health_now),
        health_change=_number(split.change),
        children=children,
    )


def _scores(session: Session, ids: list[str], as_of: date) -> pd.DataFrame:
    """``account_id, band, health_score, churn_probability, contract_value`` of the accounts
    scored on a date (a missing contract value is 0)."""
    rows = [
        (r.account_id, r.band, r.health_score, r.churn_probability, r.contract_value)
        for chunk in chunks(ids)
        for r in session.scalars(
            select(HealthScore).where(HealthScore.as_of == as_of, HealthScore.account_id.in_(chunk))
        )
    ]
    frame = pd.DataFrame(
        rows, columns=["account_id", "band", "health_score", "churn_probability", "contract_value"]
    )
    # as the batch roll-up: a customer without a covering subscription weighs 0 by value
    return frame.fillna({"contract_value": 0.0})


def _number(value: float) -> float | None:
    return None if value != value else value
