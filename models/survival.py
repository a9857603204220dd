"""Risk that says when: a survival curve per account from two boosters of its profile.

Each profile's :class:`RiskPiece` holds

* the *horizon* booster: P(churn within the model's horizon ``h``), timing features included,
  calibrated on a later window (the fixed-horizon classifier Vitals always had);
* the *step* booster: the discrete-time hazard, P(churn within the next ``step`` days), also
  calibrated on the later window;
* optional recalibrators of the curve at the other horizons, fitted where the later window has
  the follow-up.

The curve: the step hazards ``q_k`` of the account with its calendar advanced ``k * step``
days (:mod:`vitals.models.calendar`; behaviour held) give the shape of the cumulative hazard,
``L(t) = sum_{k < t/step} -log(1 - q_k)`` (linear within a step). The horizon booster fixes
its level at ``h``: ``risk(t) = 1 - exp(-a L(t))`` with ``a = -log(1 - p_h) / L(h)``. So the
configured horizon's risk is exactly the calibrated classifier's, and every horizon's ranking
keeps the timing the hazards know (a renewal in 20 days puts most of the 90-day risk into the
first 30 days). The risk is monotone in the horizon by construction, and after recalibration too
(see :func:`risk_curve`).

Health is not read from this curve. It comes from the profile's calendar-free booster, trained with
the calendar features blanked (:data:`vitals.models.calendar.CALENDAR_FEATURES`), so advancing the
calendar cannot move it and timing is never a reason for health: ``health = 100 * (1 - p)^(365/h)``,
the chance of still being a customer a year on, at the churn rate the account's behaviour shows
averaged over the calendar. That split, rather than health read off the curve, keeps health
reasons exact TreeSHAP at one booster pass per account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from scipy.special import logit

from vitals.models.calibration import Calibrator

HORIZONS: tuple[int, ...] = (30, 90, 180, 365)
STEP_DAYS = 30
HEALTH_SPAN_DAYS = 365
_TINY = 1e-12


@dataclass(frozen=True)
class RiskPiece:
    """A profile's boosters and calibrators for the risk curve (see the module docstring).

    Attributes:
        booster: P(churn within the horizon), with timing features.
        calibrator: its calibrator (margin to probability).
        step_booster: P(churn within ``step_days``), with timing features.
        step_calibrator: its calibrator.
        step_days: days per hazard step.
        recalibrators: per horizon in days, a calibrator from the curve's logit-risk to the
            observed risk (horizons without one keep the curve as it is).
    """

    booster: lgb.Booster
    calibrator: Calibrator
    step_booster: lgb.Booster
    step_calibrator: Calibrator
    step_days: int = STEP_DAYS
    recalibrators: Mapping[int, Calibrator] = field(default_factory=dict)

    def steps(self, horizons: tuple[int, ...] = HORIZONS) -> int:
        """Hazard steps the curve needs to reach the longest horizon."""
        return int(np.ceil(max(horizons) / self.step_days))


def cumulative_hazard(
    step_risk: np.ndarray, step_days: int, days: np.ndarray | float
) -> np.ndarray:
    """``L(t)`` per row at ``days`` (scalar or one per row) from the step hazards ``(rows, k)``.

    Linear within a step; past the last step the last step's hazard goes on.
    """
    rates = -np.log1p(-np.clip(step_risk, 0.0, 1.0 - _TINY))
    cum = np.concatenate([np.zeros((len(rates), 1)), np.cumsum(rates, axis=1)], axis=1)
    t = np.broadcast_to(np.asarray(days, dtype=np.float64), (len(rates),)) / step_days
    k = np.clip(np.floor(t).astype(np.int64), 0, rates.shape[1] - 1)
    rows = np.arange(len(rates))
    return cum[rows, k] + (t - k) * rates[rows, k]


def risk_curve(
    risk_at_horizon: np.ndarray,
    step_risk: np.ndarray,
    piece: RiskPiece,
    horizon: int,
    horizons: tuple[int, ...] = HORIZONS,
) -> np.ndarray:
    """Risk of churning within each of ``horizons`` days, shape ``(rows, len(horizons))``.

    Args:
        risk_at_horizon: calibrated P(churn within ``horizon``) per row.
        step_risk: calibrated step hazards per row at calendar offsets ``0, step, 2 step, ...``.
        piece: the profile's risk piece (step length and recalibrators).
        horizon: the model's horizon in days; its risk is returned unchanged where it is listed.
        horizons: the horizons of the curve, increasing.

    Returns:
        Risks non-decreasing along each row.
    """
    target = -np.log1p(-np.clip(risk_at_horizon, 0.0, 1.0 - _TINY))
    base = cumulative_hazard(step_risk, piece.step_days, float(horizon))
    flat = base < _TINY  # no shape to scale: a constant hazard through the anchor
    scale = np.where(flat, 0.0, target / np.where(flat, 1.0, base))
    columns = []
    for days in horizons:
        shaped = scale * cumulative_hazard(step_risk, piece.step_days, float(days))
        total = np.where(flat, target * days / horizon, shaped)
        risk = -np.expm1(-total)
        if days == horizon:
            risk = np.asarray(risk_at_horizon, dtype=np.float64)
        elif days in piece.recalibrators:
            risk = piece.recalibrators[days].transform(logit(np.clip(risk, _TINY, 1 - _TINY)))
        columns.append(risk)
    anchor = horizons.index(horizon) if horizon in horizons else None
    return _monotone(np.column_stack(columns), anchor)


def risk_within(
    curve: np.ndarray, days: np.ndarray, horizons: tuple[int, ...] = HORIZONS
) -> np.ndarray:
    """Risk within ``days`` per row, read off the curve (linear in the cumulative hazard between
    horizons, from 0 at day 0; past the last horizon its last segment's hazard goes on).

    NaN days give NaN.
    """
    knots = np.concatenate([[0.0], np.asarray(horizons, dtype=np.float64)])
    cum = np.concatenate(
        [np.zeros((len(curve), 1)), -np.log1p(-np.clip(curve, 0.0, 1.0 - _TINY))], axis=1
    )
    t = np.maximum(np.asarray(days, dtype=np.float64), 0.0)
    segment = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
    rows = np.arange(len(curve))
    share = (t - knots[segment]) / (knots[segment + 1] - knots[segment])  # > 1 past the end
    low, high = cum[rows, segment], cum[rows, segment + 1]
    return -np.expm1(-(low + share * (high - low)))


def health_exponent(horizon: int, span_days: int = HEALTH_SPAN_DAYS) -> float:
    """Power that turns a ``horizon``-day survival into a ``span_days`` one at the same rate."""
    return span_days / horizon


def _monotone(curve: np.ndarray, anchor: int | None) -> np.ndarray:
    """Make each row non-decreasing, keeping the anchor column as it is."""
    if anchor is None:
        return np.maximum.accumulate(curve, axis=1)
    before = np.minimum.accumulate(curve[:, anchor::-1], axis=1)[:, ::-1]
    after = np.maximum.accumulate(curve[:, anchor:], axis=1)
    return np.concatenate([before[:, :-1], after], axis=1)
