"""The account page's content: the API's account detail, made ready for the page's charts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from vitals.models.playbook import Playbook
from vitals.serving.api.account_views import account_detail, with_next_steps, with_overrides
from vitals.serving.api.hierarchy import account_hierarchy
from vitals.serving.api.holder import ServingModel
from vitals.serving.api.schemas import AccountDetail
from vitals.serving.console.charts import history_chart, renewal_date, survival_chart
from vitals.serving.ingest.recent import Activity, RecentActivity
from vitals.serving.store.features_table import read_ancestors

HISTORY_DAYS = 365
REASONS = 5


@dataclass(frozen=True)
class Child:
    """A direct child in the account's place in its hierarchy."""

    account_id: str
    health: float | None
    band: str | None
    n_accounts: int | None


@dataclass(frozen=True)
class AccountPage:
    """Everything the account page shows."""

    detail: AccountDetail
    since_days: int
    band_good: float | None
    band_poor: float | None
    history_chart: str
    survival_chart: str | None
    renewal: date | None
    ancestors: list[str]
    children: list[Child]
    activity: Activity


def account_page(
    session: Session,
    served: ServingModel,
    activity: RecentActivity,
    account_id: str,
    since_days: int,
    playbook: Playbook | None = None,
) -> AccountPage | None:
    """The account page of ``account_id`` (``None``: the store has no score of it)."""
    detail = account_detail(
        session,
        served,
        account_id,
        since_days=since_days,
        history_days=HISTORY_DAYS,
        top_k=REASONS,
    )
    if detail is None or detail.account is None:
        return None
    account = with_next_steps(with_overrides(session, [detail.account])[0], playbook)
    profile = served.model.profiles_.get(account.profile)
    good = profile.bands.good if profile is not None else None
    poor = profile.bands.poor if profile is not None else None
    history = history_chart([(h.as_of, h.health_score) for h in detail.history], good, poor)
    survival = None
    if account.curve:
        points = [(p.days, p.survival) for p in account.curve]
        survival = json.dumps(survival_chart(points, account.days_to_renewal))
    ancestors = read_ancestors(session, account_id) or (
        [account.parent_id] if account.parent_id else []
    )
    return AccountPage(
        detail=detail,
        since_days=since_days,
        band_good=good,
        band_poor=poor,
        history_chart=json.dumps(history),
        survival_chart=survival,
        renewal=renewal_date(account.as_of, account.days_to_renewal),
        ancestors=ancestors,
        children=_children(session, account_id),
        activity=activity.of(account_id),
    )


def _children(session: Session, account_id: str) -> list[Child]:
    """The account's direct children, least healthy first (a leaf has none)."""
    tree = account_hierarchy(session, account_id, "count")
    if tree is None:
        return []
    children = [
        Child(
            n.account_id,
            n.rollup.health if n.rollup is not None else n.health_score,
            n.band,
            n.rollup.n_accounts if n.rollup is not None else None,
        )
        for n in tree.nodes
        if n.depth == 1
    ]
    return sorted(children, key=lambda c: (c.health is None, c.health or 0.0, c.account_id))
