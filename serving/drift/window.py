"""The latest scoring window: the feature vectors of every account scored at the newest date.

Scoring stores each account's feature vector per scored date (``account_features``, see
:mod:`vitals.serving.store.features_table`). The window is the newest date of ``health_scores``
(found through its ``as_of`` index) and the vectors of the accounts scored then, read by primary
key in chunks, so the cost grows with the accounts of one date, not with the stored history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select

from vitals.serving.store import HealthRepository, HealthStore
from vitals.serving.store.feature_layouts import named
from vitals.serving.store.schema import AccountFeatures, HealthScore

_CHUNK = 2000


@dataclass(frozen=True)
class ScoringWindow:
    """The vectors of one scored date.

    Attributes:
        as_of: the date.
        frame: one row per account, one column per stored column (features, segment, ...).
        scored: accounts scored that day (some may lack a stored vector).
    """

    as_of: date
    frame: pd.DataFrame
    scored: int


def latest_date(store: HealthStore) -> date | None:
    """The newest scored date (``None`` in an empty store)."""
    with store.session() as session:
        return HealthRepository(session).latest_date()


def latest_window(store: HealthStore) -> ScoringWindow | None:
    """The stored vectors of the accounts scored at the newest date (``None`` before any score).

    Raises:
        StoreError: the store cannot be read.
    """
    with store.session() as session:
        newest = HealthRepository(session).latest_date()
        if newest is None:
            return None
        query = select(HealthScore.account_id).where(HealthScore.as_of == newest).distinct()
        accounts = sorted(session.scalars(query))
        stored: list[tuple[str | None, Any]] = []
        for start in range(0, len(accounts), _CHUNK):
            chunk = accounts[start : start + _CHUNK]
            found = select(AccountFeatures.layout_id, AccountFeatures.features).where(
                AccountFeatures.account_id.in_(chunk), AccountFeatures.as_of == newest
            )
            stored.extend(session.execute(found).all())
        vectors = named(session, stored)
    return ScoringWindow(newest, pd.DataFrame.from_records(vectors), len(accounts))
