"""Reasons for risk: what drives the risk within the horizon, timing included.

Health reasons never name the calendar; risk reasons may, because the risk within the horizon
does depend on it (a renewal in 20 days). They split the horizon booster's calibrated risk, in
percentage points, exactly as health reasons split health: TreeSHAP log-odds shares carried along
the margin path through the calibrator, so they add up to ``risk - risk at the base value``.
Reasons for a change of risk are baseline Shapley shares of the margin change, carried the same
way, plus a ``profile`` component when the account changed profile; they add up to the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSpec
from vitals.models import frames
from vitals.models.calibration import Calibrator
from vitals.models.core import Rows, encoded, margins
from vitals.models.explain import change_table, reason_columns, reasons_table
from vitals.models.frames import FeatureLayout
from vitals.models.profiles import FittedProfile
from vitals.models.reasons import split_score_change

_STEP = 1e-6  # log-odds step of the central difference for the calibrator's slope


def risk_reasons(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    specs: Sequence[FeatureSpec],
    rows: Rows,
    top_k: int,
) -> pd.DataFrame:
    """The ``top_k`` measures that drive each row's risk, in points of risk.

    Rows of a profile without a risk piece (a model saved before the curve) get none.

    Returns:
        The reasons table of :func:`~vitals.models.explain.reasons_table`; its ``health_points``
        column holds percentage points of risk, and the sentences say so.
    """
    width = len(layout.names)
    points, phi = np.zeros((len(rows.ids), width)), np.zeros((len(rows.ids), width + 1))
    for name, at in rows.groups:
        profile = profiles[name]
        if profile.piece.risk is None or profile.risk_shap is None:
            continue
        calibrator = profile.piece.risk.calibrator
        margin, phi[at] = profile.risk_shap.explain(encoded(rows, layout, profile, at))
        base = phi[at, -1]
        gap = 100.0 * (calibrator.transform(margin) - calibrator.transform(base))
        points[at] = split_score_change(phi[at, :-1], gap, _slope(calibrator, base))
    columns = reason_columns(
        points,
        phi,
        top_k,
        specs,
        rows.value_getter(layout),
        rows.previous_getter(layout, specs),
        unit="risk",
    )
    return reasons_table(rows.ids, columns)


def risk_change(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    specs: Sequence[FeatureSpec],
    earlier: Rows,
    now: Rows,
    top_k: int | None,
) -> pd.DataFrame:
    """Each account's change of risk between two snapshots, split over its measures.

    Returns:
        The long table of :func:`~vitals.models.explain.change_table` in percentage points of
        risk; per account the points add up to the change of ``churn_probability`` x 100.
    """
    then = earlier.take(frames.align_accounts(earlier.ids, now.ids))
    counter = then.take(np.arange(len(then.ids)), routed_like=now)
    points = np.zeros((len(now.ids), len(layout.names)))
    risk_now, risk_counter = _risk(profiles, layout, now), _risk(profiles, layout, counter)
    for name, at in now.groups:
        profile = profiles[name]
        if profile.piece.risk is None or profile.risk_shap is None:
            continue
        later, before = encoded(now, layout, profile, at), encoded(counter, layout, profile, at)
        booster, calibrator = profile.piece.risk.booster, profile.piece.risk.calibrator
        middle = (margins(booster, later) + margins(booster, before)) / 2.0
        points[at] = split_score_change(
            profile.risk_shap.change(later, before),
            risk_now[at] - risk_counter[at],
            _slope(calibrator, middle),
        )
    return change_table(
        now.ids,
        points,
        specs,
        then.value_getter(layout),
        now.value_getter(layout),
        risk_counter - _risk(profiles, layout, then),
        then.profiles,
        now.profiles,
        top_k,
        unit="risk",
    )


def _risk(profiles: Mapping[str, FittedProfile], layout: FeatureLayout, rows: Rows) -> np.ndarray:
    """Risk within the horizon x 100 per row (0 where the profile has no risk piece)."""
    out = np.zeros(len(rows.ids))
    for name, at in rows.groups:
        piece = profiles[name].piece.risk
        if piece is not None:
            X = encoded(rows, layout, profiles[name], at)
            out[at] = 100.0 * piece.calibrator.transform(margins(piece.booster, X))
    return out


def _slope(calibrator: Calibrator, margin: np.ndarray) -> np.ndarray:
    """Percentage points of risk per log-odds of margin (central difference)."""
    up, down = calibrator.transform(margin + _STEP), calibrator.transform(margin - _STEP)
    return 100.0 * (up - down) / (2.0 * _STEP)
