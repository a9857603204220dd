"""Scoring the risk curve of routed rows (the arithmetic is in :mod:`vitals.models.survival`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from vitals.models.calendar import CalendarColumns
from vitals.models.core import Rows, encoded, margins
from vitals.models.frames import FeatureLayout
from vitals.models.profiles import FittedProfile
from vitals.models.survival import HORIZONS, risk_curve, risk_within


@dataclass(frozen=True)
class Risk:
    """Risk that says when, per row.

    Attributes:
        churn_probability: calibrated risk within the model's horizon.
        curve: risk within each of :data:`~vitals.models.survival.HORIZONS` (NaN for a model
            saved before the curve).
        renewal: risk of being gone by the next renewal (NaN without a renewal date).
    """

    churn_probability: np.ndarray
    curve: np.ndarray
    renewal: np.ndarray


def score_risk(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    rows: Rows,
    health_probability: np.ndarray,
    horizon: int,
) -> Risk:
    """The risk curve of every row, from its profile's risk piece.

    A profile without a risk piece (a model saved before the curve) keeps its one booster's
    probability as the horizon's risk, with no curve.
    """
    n = len(rows.ids)
    churn = np.array(health_probability, dtype=np.float64)
    curve = np.full((n, len(HORIZONS)), np.nan)
    calendar = CalendarColumns.of(layout.names)
    for name, at in rows.groups:
        profile = profiles[name]
        piece = profile.piece.risk
        if piece is None:
            continue
        X = encoded(rows, layout, profile, at)
        churn[at] = piece.calibrator.transform(margins(piece.booster, X))
        steps = piece.steps()
        # one date at a time: stacking every date's copy of the rows first copied them again
        step_margins = [
            margins(piece.step_booster, calendar.advance(X, k * piece.step_days))
            for k in range(steps)
        ]
        step_risk = piece.step_calibrator.transform(np.concatenate(step_margins))
        curve[at] = risk_curve(churn[at], step_risk.reshape(steps, len(at)).T, piece, horizon)
    renewal = np.full(n, np.nan)
    if calendar.renewal is not None:
        # a line ending on its renewal day is a churn on that day, so the day itself counts
        renewal = risk_within(curve, rows.X[:, calendar.renewal] + 1.0)
    return Risk(churn, curve, renewal)
