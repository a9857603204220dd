"""The risk curve's arithmetic and the calendar it advances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vitals.models.calendar import CalendarColumns, renewal_after
from vitals.models.calibration import Calibrator
from vitals.models.survival import (
    HORIZONS,
    RiskPiece,
    cumulative_hazard,
    risk_curve,
    risk_within,
)

probabilities = st.floats(0.0, 0.999, allow_nan=False)


def piece(recalibrators: dict[int, Calibrator] | None = None) -> RiskPiece:
    # the boosters are not read by the curve's arithmetic
    return RiskPiece(None, Calibrator(), None, Calibrator(), 30, recalibrators or {})  # type: ignore[arg-type]


def shifted_platt(a: float, b: float) -> Calibrator:
    cal = Calibrator("sigmoid")
    cal.a_, cal.b_ = a, b
    return cal


@settings(max_examples=200, deadline=None)
@given(
    steps=arrays(np.float64, (4, 13), elements=probabilities),
    anchor=arrays(np.float64, 4, elements=probabilities),
    a=st.floats(0.2, 3.0),
    b=st.floats(-3.0, 3.0),
)
def test_the_curve_rises_with_the_horizon_and_keeps_the_anchor(steps, anchor, a, b) -> None:
    recalibrated = {days: shifted_platt(a, b) for days in (30, 180, 365)}
    for p in (piece(), piece(recalibrated)):
        curve = risk_curve(anchor, steps, p, 90)
        assert curve.shape == (4, len(HORIZONS))
        assert (np.diff(curve, axis=1) >= 0).all()
        assert ((curve >= 0) & (curve <= 1)).all()
        np.testing.assert_array_equal(curve[:, HORIZONS.index(90)], anchor)


def test_the_shape_comes_from_the_step_hazards() -> None:
    # all of the first account's hazard falls in the first step, all of the second's in the third
    steps = np.zeros((2, 13))
    steps[0, 0], steps[1, 2] = 0.2, 0.2
    curve = risk_curve(np.array([0.2, 0.2]), steps, piece(), 90)
    np.testing.assert_allclose(curve[0], [0.2, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(curve[1, :2], [0.0, 0.2])
    # no hazard at all: a constant hazard through the anchor
    flat = risk_curve(np.array([0.1]), np.zeros((1, 13)), piece(), 90)
    np.testing.assert_allclose(-np.log1p(-flat[0]), -np.log1p(-0.1) * np.array(HORIZONS) / 90)


def test_cumulative_hazard_is_linear_within_a_step() -> None:
    steps = np.array([[0.1, 0.5, 0.0]])
    rate = -np.log1p(-steps[0])
    assert cumulative_hazard(steps, 30, 15.0)[0] == pytest.approx(rate[0] / 2)
    assert cumulative_hazard(steps, 30, 45.0)[0] == pytest.approx(rate[0] + rate[1] / 2)
    assert cumulative_hazard(steps, 30, 120.0)[0] == pytest.approx(rate.sum())


@settings(max_examples=100, deadline=None)
@given(
    curve=arrays(np.float64, (3, 4), elements=probabilities).map(
        lambda c: np.maximum.accumulate(c, axis=1)
    ),
    days=arrays(np.float64, 3, elements=st.floats(0.0, 800.0)),
)
def test_risk_within_meets_the_curve_at_its_horizons_and_grows_with_days(curve, days) -> None:
    for j, horizon in enumerate(HORIZONS):
        got = risk_within(curve, np.full(3, float(horizon)))
        np.testing.assert_allclose(got, curve[:, j], atol=1e-9)
    earlier, later = risk_within(curve, days), risk_within(curve, days + 10.0)
    assert (later >= earlier - 1e-12).all()
    assert np.isnan(risk_within(curve, np.array([np.nan, 1.0, 2.0])))[0]


def test_renewal_counts_down_and_starts_again_from_the_billing_period() -> None:
    left = np.array([100.0, 10.0, 5.0, np.nan])
    months = np.array([12.0, 12.0, 1.0, 12.0])
    moved = renewal_after(left, months, 30)
    assert moved[0] == pytest.approx(70.0)
    assert moved[1] == pytest.approx(10.0 - 30.0 + 365.25)
    assert moved[2] == pytest.approx(5.0 - 30.0 + 365.25 / 12)
    assert np.isnan(moved[3])
    year = renewal_after(left[:3], months[:3], 365.25)
    np.testing.assert_allclose(year, left[:3])


def test_advancing_moves_only_the_calendar_features() -> None:
    names = ("logins_30d", "tenure_days", "onboarding", "days_to_renewal", "billing_period_months")
    X = np.array([[7.0, 60.0, 1.0, 20.0, 1.0], [3.0, 400.0, 0.0, 200.0, 12.0]])
    moved = CalendarColumns.of(names).advance(X, 45)
    np.testing.assert_array_equal(moved[:, [0, 4]], X[:, [0, 4]])
    np.testing.assert_array_equal(moved[:, 1], [105.0, 445.0])
    np.testing.assert_array_equal(moved[:, 2], [0.0, 0.0])
    np.testing.assert_allclose(moved[:, 3], [20.0 - 45.0 + 365.25 / 12, 155.0])
    assert CalendarColumns.of(names).advance(X, 0) is X


@settings(max_examples=100, deadline=None)
@given(
    tenure=arrays(np.float64, 6, elements=st.floats(0.0, 1000.0)),
    segment=st.lists(st.sampled_from(["smb", "enterprise", None]), min_size=6, max_size=6),
    span=st.integers(1, 730),
)
def test_an_account_spends_its_span_in_the_profiles_its_tenure_reaches(tenure, segment, span):
    from vitals.models.profiles import ProfileRouter, ProfileRule

    rules = [
        ProfileRule("onboarding", max_tenure_days=90),
        ProfileRule("young_smb", segments=("smb",), max_tenure_days=365),
        ProfileRule("smb", segments=("smb",)),
    ]
    router = ProfileRouter(rules, "default")
    segments = np.array(segment, dtype=object)
    stages = router.stages(segments, tenure, span)
    np.testing.assert_array_equal(stages[0][0], router.route(segments, tenure))
    np.testing.assert_allclose(sum(share for _, share in stages), 1.0)
    onboarding = sum(share * (p == "onboarding") for p, share in stages) * span
    np.testing.assert_allclose(onboarding, np.clip(np.minimum(90 - tenure, span), 0, None))
    young = sum(share * (p == "young_smb") for p, share in stages) * span
    start = np.maximum(tenure, 90)
    smb = segments == "smb"
    left = np.clip(np.minimum(365 - start, span - np.clip(90 - tenure, 0, None)), 0, None)
    np.testing.assert_allclose(young[smb], left[smb])
    assert [len(s) for s, _ in router.stages(segments, tenure, None)] == [6]
