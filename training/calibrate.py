"""Choosing and fitting the calibrator of a booster on the calibration window.

Isotonic regression is flexible but overfits small sets; Platt scaling (sigmoid) has two
coefficients. Both are scored by cross-validation inside the calibration window (folds keep an
account's rows together and spread churning accounts evenly; seeded) on the log-loss, the proper
score that punishes overconfidence: an isotonic step fitted to probability 0 that a held-out
churner lands in costs log(1e15) for that row, which is exactly how isotonic overfits. Isotonic
is chosen only when its mean out-of-fold log-loss is lower; the chosen method is then refitted on
the whole window. Too few churners for the folds means sigmoid without a contest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import StratifiedKFold

from vitals.models.calibration import CalibrationMethod, Calibrator
from vitals.training.metrics import log_loss

METHODS: tuple[CalibrationMethod, ...] = ("sigmoid", "isotonic")


@dataclass(frozen=True)
class CalibrationChoice:
    """A fitted calibrator and how it was chosen.

    Attributes:
        calibrator: fitted on every calibration row.
        method: ``"isotonic"`` or ``"sigmoid"``.
        cv_log_loss: mean out-of-fold log-loss per method (empty when there was no contest).
        rows: calibration rows.
        churners: churners among them.
    """

    calibrator: Calibrator
    method: CalibrationMethod
    rows: int
    churners: int
    cv_log_loss: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The choice as JSON-able data (without the fitted calibrator)."""
        return {
            "method": self.method,
            "rows": self.rows,
            "churners": self.churners,
            "cv_log_loss": self.cv_log_loss,
        }


def choose_calibrator(
    margin: ArrayLike,
    y: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    folds: int = 5,
    seed: int = 0,
) -> CalibrationChoice:
    """Fit isotonic and sigmoid calibration by cross-validation and keep the better one.

    Args:
        margin: raw booster margins (or any score, higher = riskier) of the calibration rows.
        y: their 0/1 outcomes.
        groups: account id per row; folds never split an account (rows are independent if
            ``None``).
        folds: number of folds.
        seed: seed of the fold shuffle.

    Returns:
        The :class:`CalibrationChoice`.

    Raises:
        ValueError: no rows, or labels that are not 0/1.
    """
    m = np.asarray(margin, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.int64).ravel()
    churners = int(t.sum())
    if min(churners, len(t) - churners) < folds:
        return CalibrationChoice(Calibrator("sigmoid").fit(m, t), "sigmoid", len(t), churners)
    scores = {method: [] for method in METHODS}
    for fit_rows, held_out in _folds(t, groups, folds, seed):
        for method in METHODS:
            p = Calibrator(method).fit(m[fit_rows], t[fit_rows]).transform(m[held_out])
            scores[method].append(log_loss(t[held_out], p))
    cv = {method: float(np.mean(values)) for method, values in scores.items()}
    best: CalibrationMethod = "isotonic" if cv["isotonic"] < cv["sigmoid"] else "sigmoid"
    return CalibrationChoice(Calibrator(best).fit(m, t), best, len(t), churners, cv)


def _folds(
    y: np.ndarray, groups: ArrayLike | None, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep an account's rows together and spread churning accounts evenly.

    Accounts are shuffled (seeded), those with a churn label first, and dealt round-robin.
    """
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y))
    codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
    churned = np.zeros(codes.max() + 1, dtype=bool)
    churned[codes[y == 1]] = True
    order = np.random.default_rng(seed).permutation(len(churned))
    order = order[np.argsort(~churned[order], kind="stable")]
    fold_of = np.empty(len(churned), dtype=np.int64)
    fold_of[order] = np.arange(len(churned)) % folds
    row_fold = fold_of[codes]
    return [(np.flatnonzero(row_fold != k), np.flatnonzero(row_fold == k)) for k in range(folds)]
