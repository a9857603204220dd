"""How well the CSM's ratings alone foretold churn on the out-of-time test window.

A team sees whether its red / yellow / green ratings carry signal or are inflated: the AUC of the
latest rating as a ranking (red riskiest) on the test rows that have one, Vitals' AUC on the very
same rows beside it, and the churn rate per rating (and without one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

RATED = "sentiment_latest"  # red 0, yellow 1, green 2 (see vitals.features.families.voice)
RATINGS = {0.0: "red", 1.0: "yellow", 2.0: "green"}


def sentiment_section(test: pd.DataFrame, y: np.ndarray, vitals: np.ndarray) -> dict[str, Any]:
    """The ``sentiment`` section of the evaluation report.

    Args:
        test: the test window's snapshots.
        y: their outcomes (0 or 1).
        vitals: Vitals' churn probabilities for them.

    Returns:
        ``{"available": False, "reason": ...}`` without ratings, else the rated rows' share, the
        AUC of the rating and of Vitals on them, and ``churn_rate`` / ``rows`` per rating.
    """
    if RATED not in test.columns:
        return {"available": False, "reason": "the data has no sentiment table"}
    rating = test[RATED].to_numpy(dtype=np.float64, na_value=np.nan)
    rated = ~np.isnan(rating)
    by_rating: dict[str, dict[str, float | int | None]] = {}
    for value, name in [*RATINGS.items(), (None, "none")]:
        rows = ~rated if value is None else rating == value
        count = int(rows.sum())
        by_rating[name] = {"rows": count, "churn_rate": float(y[rows].mean()) if count else None}
    churn, kept = y[rated], rated.sum()
    both = 0 < churn.sum() < kept
    return {
        "available": True,
        "rated_share": float(rated.mean()) if len(rated) else 0.0,
        "rated_rows": int(kept),
        "auc": float(roc_auc_score(churn, -rating[rated])) if both else None,
        "vitals_auc_same_rows": float(roc_auc_score(churn, vitals[rated])) if both else None,
        "by_rating": by_rating,
    }
