"""Out-of-time evaluation of the risk curve: per horizon, over time, and its calibration.

On the test window, next to the fixed-horizon classifier (the curve's anchor) and Kaplan-Meier:

* per horizon in :data:`~vitals.models.survival.HORIZONS`, on the test rows followed up that
  long: rows, churners, AUC, ECE, mean predicted against observed risk; and scikit-survival's
  time-dependent (cumulative/dynamic, IPCW) AUC over every test row, censored ones included;
* the integrated Brier score (scikit-survival, IPCW) from day 1 to the longest follow-up the test
  window has (at most 365), for the curve and for a Kaplan-Meier curve per profile fitted on the
  training window;
* the mean predicted survival curve of the test rows beside the test window's own Kaplan-Meier
  curve (what was observed), on the same days;
* D-calibration (Haider et al., 2020): each row's predicted survival at its observed time
  should be uniform on [0, 1] (a censored row spreads evenly below its value); the ten bins'
  shares and the chi-square test's p-value. scikit-survival has no D-calibration, and the
  package that does pulls in PyTorch, so these few lines are written here.

A horizon longer than every test row's follow-up has no out-of-time evaluation: it says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chisquare
from sksurv.metrics import cumulative_dynamic_auc, integrated_brier_score
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from vitals.models.health_model import HealthModel
from vitals.models.survival import HORIZONS, risk_within
from vitals.training.data import PROFILE
from vitals.training.metrics import classification_metrics
from vitals.training.splits import TimeSplit
from vitals.training.survival import FollowUp

D_CALIBRATION_BINS = 10
_GRID_POINTS = 24


def survival_outcomes(frame: pd.DataFrame, follow_up: FollowUp) -> np.ndarray:
    """scikit-survival's structured (event, time) array: days to the known churn, else to the
    end of follow-up (at least one day)."""
    known = follow_up.days(frame)
    churn_in = follow_up.churn_in(frame)
    event = ~np.isnan(churn_in) & (churn_in <= known)
    time = np.where(event, churn_in, known)
    return Surv.from_arrays(event=event, time=np.maximum(time, 1.0))


def survival_report(model: HealthModel, split: TimeSplit, follow_up: FollowUp) -> dict[str, object]:
    """The curve's out-of-time report (schema in the module docstring).

    Args:
        model: the fitted model.
        split: the time split (evaluated on ``test``; Kaplan-Meier and IPCW from ``train``).
        follow_up: how far each row's outcome is known.
    """
    test = split.test
    scores = model.predict(test)
    curve = scores[[f"risk_{d}d" for d in HORIZONS]].to_numpy(dtype=np.float64)
    if np.isnan(curve).all():
        return {"available": False, "reason": "the model has no risk curve"}
    train_y = survival_outcomes(split.train, follow_up)
    test_y = survival_outcomes(test, follow_up)
    known = follow_up.days(test)
    horizons = {}
    for j, days in enumerate(HORIZONS):
        horizons[f"{days}d"] = _horizon(days, curve[:, j], test, known, train_y, test_y, follow_up)
    longest = float(min(max(HORIZONS), test_y["time"].max() - 1))
    grid = np.unique(np.linspace(1.0, longest, _GRID_POINTS).round())
    survival = np.column_stack([1.0 - risk_within(curve, np.full(len(test), t)) for t in grid])
    km = _kaplan_meier(split.train, train_y, test[PROFILE].to_numpy(), grid)
    return {
        "available": True,
        "horizons": horizons,
        "integrated_brier": {
            "days": [1, int(longest)],
            "vitals": _ibs(train_y, test_y, survival, grid),
            "kaplan_meier": _ibs(train_y, test_y, km, grid),
        },
        "mean_curve": {
            "days": grid.tolist(),
            "predicted_survival": survival.mean(axis=0).round(6).tolist(),
            "kaplan_meier_test": _km_on(test_y, grid).round(6).tolist(),
        },
        "d_calibration": d_calibration(1.0 - risk_within(curve, test_y["time"]), test_y["event"]),
        "anchor_horizon_days": follow_up.horizon_days,
    }


def d_calibration(survival_at_time: np.ndarray, event: np.ndarray) -> dict[str, object]:
    """Shares of rows per predicted-survival decile and the chi-square test of uniformity.

    Args:
        survival_at_time: each row's predicted survival at its observed time.
        event: whether the time is a churn (else a censoring).
    """
    s = np.clip(np.asarray(survival_at_time, dtype=np.float64), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, D_CALIBRATION_BINS + 1)
    counts = np.zeros(D_CALIBRATION_BINS)
    churned = np.asarray(event, dtype=bool)
    bins = np.clip(np.searchsorted(edges, s[churned], side="right") - 1, 0, D_CALIBRATION_BINS - 1)
    counts += np.bincount(bins, minlength=D_CALIBRATION_BINS)
    censored = s[~churned]
    # a censored row's survival lies uniformly below its predicted value at censoring
    low, high = edges[:-1][None, :], edges[1:][None, :]
    spread = np.clip(np.minimum(high, censored[:, None]) - low, 0.0, None)
    counts += (spread / np.maximum(censored[:, None], 1e-12)).sum(axis=0)
    total = counts.sum()
    _, p_value = chisquare(counts)
    return {
        "bins": D_CALIBRATION_BINS,
        "shares": (counts / total).round(4).tolist(),
        "p_value": float(p_value),
        "calibrated": bool(p_value > 0.05),
    }


def _horizon(
    days: int,
    risk: np.ndarray,
    test: pd.DataFrame,
    known: np.ndarray,
    train_y: np.ndarray,
    test_y: np.ndarray,
    follow_up: FollowUp,
) -> dict[str, object]:
    followed = known >= days
    facts: dict[str, object] = {"rows_followed_up": int(followed.sum())}
    y = follow_up.churned_within(test, days)
    if followed.any() and 0 < y[followed].sum() < followed.sum():
        metrics = classification_metrics(y[followed], risk[followed])
        facts.update(
            auc=metrics["auc"],
            ece=metrics["ece"],
            churners=int(y[followed].sum()),
            mean_predicted=float(risk[followed].mean()),
            observed=float(y[followed].mean()),
        )
    else:
        facts["reason"] = "no test row is followed up this long, with churners and stayers"
    try:
        auc, _ = cumulative_dynamic_auc(train_y, test_y, risk, [float(days)])
        facts["time_dependent_auc"] = float(np.asarray(auc).ravel()[0])
    except ValueError as error:
        facts["time_dependent_auc"] = None
        facts.setdefault("reason", str(error))
    return facts


def _ibs(
    train_y: np.ndarray, test_y: np.ndarray, survival: np.ndarray, grid: np.ndarray
) -> float | None:
    try:
        return float(integrated_brier_score(train_y, test_y, survival, grid))
    except ValueError:
        return None


def _kaplan_meier(
    train: pd.DataFrame, train_y: np.ndarray, profiles: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """Kaplan-Meier survival on ``grid`` per test row, from its profile's training rows."""
    out = np.empty((len(profiles), len(grid)))
    overall = _km_on(train_y, grid)
    train_profile = train[PROFILE].to_numpy()
    for name in np.unique(profiles.astype(str)):
        own = train_profile == name
        out[profiles == name] = _km_on(train_y[own], grid) if own.any() else overall
    return out


def _km_on(y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    time, survival = kaplan_meier_estimator(y["event"], y["time"])
    at = np.clip(np.searchsorted(time, grid, side="right") - 1, -1, len(time) - 1)
    return np.where(at >= 0, survival[np.maximum(at, 0)], 1.0)
