"""Scores of churn probabilities against 0/1 outcomes, as reported for every model.

=============== ===========================================================================
key             meaning
=============== ===========================================================================
snapshots       rows scored
churners        rows with outcome 1
auc             area under the ROC curve (``None`` when only one class is present)
pr_auc          average precision (area under the precision-recall curve; ``None`` likewise)
brier           mean squared error of the probability
log_loss        mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15]
ece             expected calibration error over 10 equal-count bins of the sorted
                probabilities: sum over bins of (bin share) x abs(churn rate - mean probability)
lift_top10      churn rate among the riskiest 10 % (ceil) divided by the overall churn rate
recall_top10    share of all churners found among the riskiest 10 %
=============== ===========================================================================
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

from vitals.models.drift import expected_calibration_error

METRICS = (
    "snapshots",
    "churners",
    "auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_top10",
    "recall_top10",
)
TOP_SHARE = 0.10
_EPS = 1e-15


def log_loss(y: ArrayLike, p: ArrayLike) -> float:
    """Mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15]."""
    t, q = _arrays(y, p)
    clipped = np.clip(q, _EPS, 1.0 - _EPS)
    return float(-np.mean(t * np.log(clipped) + (1 - t) * np.log(1 - clipped)))


def top_share(y: ArrayLike, p: ArrayLike, share: float = TOP_SHARE) -> tuple[float, float]:
    """Lift and recall among the ``share`` riskiest rows (ties broken by row order).

    Returns:
        ``(lift, recall)``; both ``nan`` without churners.
    """
    t, q = _arrays(y, p)
    churners = t.sum()
    if churners == 0:
        return math.nan, math.nan
    k = max(1, math.ceil(share * len(t)))
    top = np.argsort(-q, kind="stable")[:k]
    found = t[top].sum()
    return float((found / k) / (churners / len(t))), float(found / churners)


def classification_metrics(y: ArrayLike, p: ArrayLike) -> dict[str, float | int | None]:
    """Every metric of the module table for one set of rows.

    Args:
        y: outcomes, 0 or 1.
        p: churn probabilities in [0, 1].

    Returns:
        A dict keyed as :data:`METRICS` (``None`` where a metric is undefined).

    Raises:
        ValueError: empty input or mismatched lengths.
    """
    t, q = _arrays(y, p)
    both = 0 < t.sum() < len(t)
    lift, recall = top_share(t, q)
    values: dict[str, float | int | None] = {
        "snapshots": len(t),
        "churners": int(t.sum()),
        "auc": float(roc_auc_score(t, q)) if both else None,
        "pr_auc": float(average_precision_score(t, q)) if both else None,
        "brier": float(np.mean((q - t) ** 2)),
        "log_loss": log_loss(t, q),
        "ece": expected_calibration_error(t, q),
        "lift_top10": None if math.isnan(lift) else lift,
        "recall_top10": None if math.isnan(recall) else recall,
    }
    return values


def _arrays(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y, dtype=np.float64).ravel()
    q = np.asarray(p, dtype=np.float64).ravel()
    if t.shape != q.shape or t.size == 0:
        raise ValueError(f"need as many probabilities as outcomes, got {q.size} and {t.size}")
    return t, q
