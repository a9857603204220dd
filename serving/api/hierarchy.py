"""The account tree under an account, with every level's stored health and roll-up.

Structure comes from the stored account tree (``account_hierarchy``), which also links parents
that have no score of their own; where it is missing, the parent links of the latest scores are
used (an unscored parent then shows only the accounts scored directly under it). Numbers come
from the batch's tables of the latest scored date: each scored account's own score
(``health_scores``) and each parent's roll-up (``parent_health``: shares per band, health,
revenue at risk, the children pulling it down and its reasons).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from vitals.serving.api.hierarchy_schemas import (
    Driver,
    HierarchyNode,
    HierarchyResponse,
    ParentReason,
    RollUpView,
)
from vitals.serving.api.schemas import Weighting
from vitals.serving.store import HealthRepository, HealthScore, ParentHealth
from vitals.serving.store.features_table import read_subtree

_CHUNK = 2000
T = TypeVar("T")


def account_hierarchy(
    session: Session, account_id: str, weighting: Weighting
) -> HierarchyResponse | None:
    """The tree under ``account_id`` as of the latest scored date (``None``: unknown account)."""
    as_of = HealthRepository(session).latest_date()
    if as_of is None:
        return None
    edges = read_subtree(session, account_id) or scored_subtree(session, account_id, as_of)
    ids = [a for a, _ in edges]
    scores = {
        r.account_id: r
        for chunk in chunks(ids)
        for r in session.scalars(
            select(HealthScore).where(HealthScore.as_of == as_of, HealthScore.account_id.in_(chunk))
        )
    }
    rollups = {
        r.parent_id: r
        for chunk in chunks(ids)
        for r in HealthRepository(session).rollups(as_of, weighting, parent_ids=chunk)
    }
    if account_id not in scores and account_id not in rollups:
        return None
    depth: dict[str, int] = {}
    nodes = []
    for node_id, parent in edges:
        depth[node_id] = 0 if node_id == account_id else depth[parent] + 1  # type: ignore[index]
        score, rolled = scores.get(node_id), rollups.get(node_id)
        nodes.append(
            HierarchyNode(
                account_id=node_id,
                parent_id=parent,
                depth=depth[node_id],
                scored=score is not None,
                health_score=score and score.health_score,
                band=score and score.band,
                churn_probability=score and score.churn_probability,
                contract_value=score and score.contract_value,
                revenue_at_risk=score and score.revenue_at_risk,
                rollup=_rollup(rolled) if rolled is not None else None,
            )
        )
    return HierarchyResponse(account_id=account_id, as_of=as_of, weighting=weighting, nodes=nodes)


def scored_subtree(session: Session, account_id: str, as_of: date) -> list[tuple[str, str | None]]:
    """The subtree by the parent links of one date's scores (no stored tree)."""
    own = session.scalars(
        select(HealthScore.parent_id).where(
            HealthScore.as_of == as_of, HealthScore.account_id == account_id
        )
    ).first()
    edges: list[tuple[str, str | None]] = [(account_id, own)]
    seen, level = {account_id}, [account_id]
    while level:
        below = session.execute(
            select(HealthScore.account_id, HealthScore.parent_id)
            .where(HealthScore.as_of == as_of, HealthScore.parent_id.in_(level))
            .order_by(HealthScore.account_id)
        ).all()
        level = [a for a, _ in below if a not in seen]
        seen.update(level)
        edges.extend((a, p) for a, p in below if a in level)
    return edges


def _rollup(row: ParentHealth) -> RollUpView:
    return RollUpView(
        n_accounts=row.n_accounts,
        weight=row.weight,
        share_good=row.share_good,
        share_average=row.share_average,
        share_poor=row.share_poor,
        health=row.health,
        contract_value=row.contract_value,
        revenue_at_risk=row.revenue_at_risk,
        renewal_revenue_at_risk=row.renewal_revenue_at_risk,
        pulling_down=[Driver(**d) for d in row.pulling_down],
        reasons=[ParentReason(**r) for r in row.reasons],
    )


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
