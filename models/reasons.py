"""Reasons in health points, and the plain sentences that say them.

From log-odds to health points
------------------------------
TreeSHAP splits a booster's raw margin ``M`` into per-feature contributions ``phi_i`` plus a base
value ``phi_0`` (``M = phi_0 + sum_i phi_i``), all in log-odds. The health score is
``S(M) = 100 * (1 - C(M))`` with ``C`` the profile's calibrator, which is not additive
(isotonic is piecewise linear, Platt is a sigmoid), so contributions cannot be mapped one by one.

Instead the score change is split along the straight path in margin space (Aumann-Shapley /
integrated gradients on the one-dimensional map ``S``): moving every contribution linearly from
``phi^0`` to ``phi^1``, the margin moves from ``M0`` to ``M1`` and feature ``i`` receives
``dS_i = (phi^1_i - phi^0_i) / (M1 - M0) * (S(M1) - S(M0))``. The shares add up to
``S(M1) - S(M0)`` exactly, every feature keeps the sign of its log-odds push (the map is
monotone), and a feature that did not move gets nothing. When ``|M1 - M0| < 1e-9`` the ratio is
replaced by its limit, the local slope ``S'(M)`` (a central difference).

* ``explain`` (one date): the path runs from the base value (``M0 = phi_0``, the profile's
  *baseline score* ``S(phi_0)``) to the account's margin, so reasons sum to
  ``score - baseline_score``.
* ``explain_change`` (two dates): the path runs from the earlier snapshot to the later one under
  the later date's profile, so the contributions sum to the score change. When the account's
  profile changed in between, an explicit ``profile changed`` component carries
  ``S_new(x_then) - S_old(x_then)``: the score the earlier snapshot gets from the new profile's
  model minus the one it got from the old, so that the total is again exactly the change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np

from vitals.features.catalog import FeatureSpec

PointsUnit = Literal["health", "risk"]
FLAT_MARGIN = 1e-9  # log-odds: below this a margin change counts as none
PROFILE_COMPONENT = "profile"
OTHER_COMPONENT = "other_measures"


def split_score_change(
    delta_phi: np.ndarray, delta_score: np.ndarray, local_slope: np.ndarray
) -> np.ndarray:
    """Health points per feature: the score change split along the straight margin path.

    Args:
        delta_phi: contribution changes in log-odds, shape (rows, features).
        delta_score: score change per row, ``S(M1) - S(M0)``.
        local_slope: ``S'`` per row, used only where the margin barely moves.

    Returns:
        Health points, shape (rows, features); each row sums to ``delta_score`` (exactly where the
        margin moved by at least ``FLAT_MARGIN``).
    """
    delta_margin = delta_phi.sum(axis=1)
    flat = np.abs(delta_margin) < FLAT_MARGIN
    ratio = np.where(flat, local_slope, delta_score / np.where(flat, 1.0, delta_margin))
    return delta_phi * ratio[:, None]


def format_points(points: float, unit: PointsUnit = "health") -> str:
    """Points in words: ``-9 health points``, ``+1 health point``, ``+0.03 health points``; in
    risk, percentage points of churn risk: ``+3 points of risk``."""
    if abs(points) >= 0.95:
        shown = f"{points:+.0f}"
    else:
        shown = f"{points:+.1f}" if abs(points) >= 0.095 else f"{points:+.2f}"
    one = shown in ("+1", "-1")
    if unit == "risk":
        return f"{shown} {'point' if one else 'points'} of risk"
    return f"{shown} {'health point' if one else 'health points'}"


def format_value(value: object, unit: str) -> str:
    """A feature value in words: ``31%`` for a share, ``12 days``, ``0.62``, ``enterprise``."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    # rounding first keeps float noise (443.99999999999994 vs 444.0) out of the wording
    x = round(float(value), 9)  # type: ignore[arg-type]
    if unit == "share":
        return f"{x:.0%}"
    if unit == "currency":
        return f"{x:,.0f}"
    if unit == "relative change":  # (now - before) / (now + before), in [-1, 1]
        return f"{x:+.2f}"
    text = f"{x:,.0f}" if x == round(x) else f"{x:.2f}" if abs(x) < 10 else f"{x:,.1f}"
    if unit in ("", "ratio", "count", "score", "index"):
        return text
    if text == "1" and unit.endswith("s"):
        unit = unit[:-1]
    return f"{text} {unit}"


def reason_sentence(
    spec: FeatureSpec,
    value: object,
    previous: object,
    points: float,
    unit: PointsUnit = "health",
) -> str:
    """Plain sentence for one reason at one date.

    Args:
        spec: the feature's catalog entry.
        value: its value (a number, NaN, or a category string).
        previous: its value a window earlier (``spec.previous`` column), or ``None``.
        points: its contribution in points of ``unit``.
        unit: health points, or percentage points of risk.

    Returns:
        E.g. ``Active users per seat fell from 0.62 to 0.31 over the last 30 days (-9 health
        points)``.
    """
    return with_points(reason_statement(spec, value, previous), points, unit)


def reason_statement(spec: FeatureSpec, value: object, previous: object) -> str:
    """What a reason's sentence says of its feature, before its points (:func:`with_points`):
    ``Active users per seat fell from 0.62 to 0.31 over the last 30 days``."""
    window = _window(spec)
    if _known(previous) and _known(value):
        verb = _movement(previous, value)
        if verb == "stayed":
            return f"{spec.label} stayed at {format_value(value, spec.unit)}{window}"
        return (
            f"{spec.label} {verb} from {format_value(previous, spec.unit)} to "
            f"{format_value(value, spec.unit)}{window}"
        )
    if not _known(value):
        return f"{spec.label}: no data{window}"
    if spec.window_days and not isinstance(value, str):
        return f"{spec.label} was {format_value(value, spec.unit)}{window}"
    return f"{spec.label} is {format_value(value, spec.unit)}"


def with_points(statement: str, points: float, unit: PointsUnit = "health") -> str:
    """A reason's sentence: its statement and its points (``... (-9 health points)``)."""
    return f"{statement} ({format_points(points, unit)})"


def measure_sentence(measure: str, sentence: str) -> str:
    """A measure's sentence from its lead feature's (``Product usage: Active users fell ...``),
    without repeating a measure the sentence already starts with."""
    if sentence.lower().startswith(measure.lower()):
        return sentence
    return f"{measure}: {sentence}"


def _window(spec: FeatureSpec) -> str:
    """The look-back window in words: the latest one, or the one before it."""
    if not spec.window_days:
        return ""
    if spec.previous_window:
        return f" in the {spec.window_days} days before the last {spec.window_days}"
    return f" over the last {spec.window_days} days"


def change_sentence(
    spec: FeatureSpec, then: object, now: object, points: float, unit: PointsUnit = "health"
) -> str:
    """Plain sentence for one feature's share of a score change between two dates."""
    tail = f"({format_points(points, unit)})"
    if not _known(then) and not _known(now):
        return f"{spec.label} had no data at either date {tail}"
    verb = _movement(then, now)
    if verb == "stayed":
        return f"{spec.label} stayed at {format_value(now, spec.unit)} {tail}"
    before, after = format_value(then, spec.unit), format_value(now, spec.unit)
    return f"{spec.label} {verb} from {before} to {after} {tail}"


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _movement(before: object, after: object) -> str:
    if isinstance(before, str) or isinstance(after, str) or not (_known(before) and _known(after)):
        return "stayed" if before == after else "changed"
    if after > before:  # type: ignore[operator]
        return "rose"
    return "fell" if after < before else "stayed"  # type: ignore[operator]


def risk_sentences(
    curve: Mapping[int, float],
    days_to_renewal: float | None,
    renewal_risk: float | None,
    renewal_at_risk: float | None,
) -> list[str]:
    """Timing as context for risk (never a reason for health), in words.

    Args:
        curve: risk of churning within each horizon, by days.
        days_to_renewal: days to the next renewal, if known.
        renewal_risk: risk of being gone by then.
        renewal_at_risk: that risk times the contract value.

    Returns:
        Up to two sentences: the renewal and the risk by horizon.
    """
    out = []
    if days_to_renewal is not None and renewal_risk is not None:
        money = "" if renewal_at_risk is None else f", {renewal_at_risk:,.0f} of contract value"
        day = "day" if round(days_to_renewal) == 1 else "days"
        out.append(
            f"Renewal in {days_to_renewal:.0f} {day}: {renewal_risk:.0%} risk of being gone by "
            f"then{money}"
        )
    if curve:
        parts = ", ".join(f"{risk:.0%} within {days} days" for days, risk in sorted(curve.items()))
        out.append(f"Risk of churning: {parts}")
    return out
