"""Which snapshot features training may use: those that vary in the training window.

A feature with no value, or one value, across every training row carries no information; an
empty extra account column (an unused ``initial_plan``) is the common case. Dropping it keeps the
model's recorded feature set to what the boosters can actually split on. A feature may also ask
for a minimum share of training accounts with a value (the CSM's ratings: a team that rates a
handful of accounts gives the model noise to fit, not a signal).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from vitals.features.build import Snapshots

logger = logging.getLogger(__name__)

SENTIMENT = "sentiment"  # the feature family of the CSM's ratings


def training_features(
    train: pd.DataFrame, snapshots: Snapshots, min_sentiment_share: float
) -> tuple[list[str], dict[str, str]]:
    """The snapshot features training uses (:func:`informative_features`), the CSM-sentiment
    family only when at least ``min_sentiment_share`` of the training accounts have a rating;
    a warning says when they do not."""
    declared = [s.name for s in snapshots.catalog if s.kind == "categorical"]
    rated = [s.name for s in snapshots.catalog if s.family == SENTIMENT]
    sparse = dict.fromkeys(rated, min_sentiment_share)
    features, dropped = informative_features(
        train, snapshots.feature_names, declared, min_coverage=sparse
    )
    if unused := [n for n in rated if dropped.get(n) == "sparse"]:
        logger.warning(
            "CSM sentiment is not used: fewer than %.0f%% of the training accounts have a rating "
            "(training.min_sentiment_share); dropped %s",
            100 * min_sentiment_share,
            unused,
        )
    return features, dropped


def informative_features(
    frame: pd.DataFrame,
    names: Sequence[str],
    categorical: Sequence[str],
    min_coverage: Mapping[str, float] | None = None,
    account_column: str = "account_id",
) -> tuple[list[str], dict[str, str]]:
    """The features of ``names`` that take at least two values in ``frame``.

    Args:
        frame: the training rows.
        names: candidate features, in order.
        categorical: which of them are categorical.
        min_coverage: per feature, the share of accounts that must have a value in at least one
            of their rows (others: none).
        account_column: the column naming each row's account.

    Returns:
        The kept names (in order), and each dropped name with why (``empty``, ``constant`` or
        ``sparse``).
    """
    cats = set(categorical)
    numeric = [n for n in names if n not in cats]
    dropped: dict[str, str] = {}
    if numeric and len(frame):
        values = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        seen = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            low, high = (
                np.nanmin(np.where(seen, values, np.inf), 0),
                np.nanmax(np.where(seen, values, -np.inf), 0),
            )
        for name, any_seen, lo, hi in zip(numeric, seen.any(0), low, high, strict=True):
            if not any_seen:
                dropped[name] = "empty"
            elif lo == hi:
                dropped[name] = "constant"
    for name in cats & set(names):
        levels = frame[name].dropna().nunique() if len(frame) else 0
        if levels < 2:
            dropped[name] = "empty" if levels == 0 else "constant"
    for name, share in (min_coverage or {}).items():
        known = name in names and name not in dropped and len(frame) > 0
        if known and frame[name].notna().groupby(frame[account_column]).any().mean() < share:
            dropped[name] = "sparse"
    return [n for n in names if n not in dropped], dropped
