"""Reading what the rules compare: scores and roll-ups at a date, the previous ones, a window."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vitals.serving.store import HealthScore, ParentHealth
from vitals.serving.store.schema import AccountHierarchy

_CHUNK = 2000  # ids per IN (...) list
_ACCOUNT_COLUMNS = ("account_id", "as_of", "model_version", "health_score", "band")
_PARENT_COLUMNS = ("parent_id", "as_of", "model_version", "weighting", "revenue_at_risk", "health")


def account_history(
    session: Session,
    as_of: date,
    account_ids: Sequence[str] | None,
    *,
    window_days: int,
    horizons: Sequence[int],
) -> pd.DataFrame:
    """Each account scored at ``as_of`` (optionally only those given): that score, its previous
    one, and every score of the ``2 * window_days`` before ``as_of``.

    Args:
        session: a session on the store.
        as_of: the scored date.
        account_ids: the accounts to read (default: all scored at ``as_of``).
        window_days: days of the longest ``score_drop`` rule (0 for none).
        horizons: the ``risk_<N>d`` columns to read.

    Returns:
        One row per account and scored date (see :mod:`vitals.serving.alerts.rules`).
    """
    names = (*_ACCOUNT_COLUMNS, *(f"risk_{days}d" for days in horizons))
    columns = [getattr(HealthScore, name) for name in names]
    now = select(*columns).where(HealthScore.as_of == as_of)
    found = _rows(session, now, HealthScore.account_id, account_ids)
    accounts = sorted({row[0] for row in found})
    newest = (
        select(HealthScore.account_id, func.max(HealthScore.as_of).label("as_of"))
        .where(HealthScore.as_of < as_of)
        .group_by(HealthScore.account_id)
    )
    start = as_of - timedelta(days=2 * window_days)
    window = select(*columns).where(HealthScore.as_of >= start, HealthScore.as_of < as_of)
    for chunk in _chunks(accounts):
        before = newest.where(HealthScore.account_id.in_(chunk)).subquery()
        match = (HealthScore.account_id == before.c.account_id) & (
            HealthScore.as_of == before.c.as_of
        )
        found += session.execute(select(*columns).join(before, match)).all()
        if window_days:
            found += session.execute(window.where(HealthScore.account_id.in_(chunk))).all()
    frame = pd.DataFrame([tuple(r) for r in found], columns=list(names))
    return frame.drop_duplicates(["account_id", "as_of"], ignore_index=True)


def parent_rollups(
    session: Session, as_of: date, parent_ids: Sequence[str] | None, weightings: Sequence[str]
) -> pd.DataFrame:
    """Each parent's roll-ups (of ``weightings``) at ``as_of`` and the previous ones.

    Args:
        session: a session on the store.
        as_of: the scored date.
        parent_ids: the parents to read (default: all rolled up at ``as_of``).
        weightings: the roll-up weightings the rules use.
    """
    columns = [getattr(ParentHealth, name) for name in _PARENT_COLUMNS]
    now = select(*columns).where(
        ParentHealth.as_of == as_of, ParentHealth.weighting.in_(weightings)
    )
    found = _rows(session, now, ParentHealth.parent_id, parent_ids)
    parents = sorted({row[0] for row in found})
    for chunk in _chunks(parents):
        before = (
            select(
                ParentHealth.parent_id,
                ParentHealth.weighting,
                func.max(ParentHealth.as_of).label("as_of"),
            )
            .where(
                ParentHealth.as_of < as_of,
                ParentHealth.weighting.in_(weightings),
                ParentHealth.parent_id.in_(chunk),
            )
            .group_by(ParentHealth.parent_id, ParentHealth.weighting)
            .subquery()
        )
        match = (
            (ParentHealth.parent_id == before.c.parent_id)
            & (ParentHealth.weighting == before.c.weighting)
            & (ParentHealth.as_of == before.c.as_of)
        )
        found += session.execute(select(*columns).join(before, match)).all()
    return pd.DataFrame([tuple(r) for r in found], columns=list(_PARENT_COLUMNS))


def with_ancestors(session: Session, account_ids: Sequence[str]) -> list[str]:
    """The accounts and every account above them in the stored account tree, sorted."""
    found = set(account_ids)
    frontier = set(account_ids)
    while frontier:
        parents: set[str] = set()
        for chunk in _chunks(sorted(frontier)):
            parents.update(
                session.scalars(
                    select(AccountHierarchy.parent_id).where(
                        AccountHierarchy.account_id.in_(chunk),
                        AccountHierarchy.parent_id.is_not(None),
                    )
                )
            )
        frontier = parents - found
        found |= frontier
    return sorted(found)


def _rows(session: Session, query: Select, key: Any, ids: Sequence[str] | None) -> list[Any]:
    if ids is None:
        return list(session.execute(query).all())
    found: list[Any] = []
    for chunk in _chunks(sorted(set(ids))):
        found += session.execute(query.where(key.in_(chunk))).all()
    return found


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
