"""The drift math of ``vitals.models.drift``: reference bins, PSI and calibration gaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modeldata import make_feature_set, make_snapshots, routing

from vitals.models.drift import (
    MISSING,
    OTHER,
    REFERENCE_KEY,
    DriftReference,
    calibration_gap,
    feature_shifts,
    population_stability_index,
    reference_distribution,
    reference_of,
)
from vitals.models.health_model import HealthModel

NUMERIC = ["active_users_per_seat", "logins_30d", "tickets_90d", "nps"]


def reference(frame: pd.DataFrame) -> DriftReference:
    return reference_distribution(frame, [*NUMERIC, "plan"], ["plan"], bins=10)


def psi_of(shifts: list, name: str) -> float:
    return next(s.psi for s in shifts if s.name == name)


def test_psi_is_zero_for_the_training_rows_themselves() -> None:
    frame = make_snapshots(2000, seed=1)
    shifts, absent = feature_shifts(reference(frame), frame)
    assert absent == []
    assert {s.name for s in shifts} == {*NUMERIC, "plan"}
    assert all(s.psi == 0.0 and s.rows == len(frame) for s in shifts)
    for shift in shifts:
        assert sum(shift.expected) == pytest.approx(1.0)
        assert shift.expected == pytest.approx(shift.actual)


def test_psi_is_small_for_a_new_sample_of_the_same_distribution() -> None:
    ref = reference(make_snapshots(5000, seed=1))
    shifts, _ = feature_shifts(ref, make_snapshots(5000, seed=2))
    assert max(s.psi for s in shifts) < 0.02


def test_psi_grows_with_the_shift() -> None:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(0.0, 1.0, 5000)})
    ref = reference_distribution(train, ["x"])
    found = []
    for shift in (0.0, 0.25, 0.5, 1.0, 2.0):
        now = pd.DataFrame({"x": rng.normal(shift, 1.0, 5000)})
        found.append(feature_shifts(ref, now)[0][0].psi)
    assert found == sorted(found)
    assert found[0] < 0.02 and found[-1] > 1.0
    assert 0.1 < found[3] < found[4]


def test_values_beyond_the_training_range_fall_in_the_end_bins() -> None:
    ref = reference_distribution(pd.DataFrame({"x": np.arange(100.0)}), ["x"], bins=4)
    feature = ref.features[0]
    assert feature.labels[0].startswith("<=") and feature.labels[-2].startswith(">")
    counts = feature.counts(np.array([-1e9, 1e9, 50.0, np.nan]))
    assert counts.sum() == 4
    assert counts[0] == 1 and counts[-2] == 1 and counts[-1] == 1


def test_ties_merge_bins_and_missing_values_have_their_own() -> None:
    values = np.r_[np.zeros(700), np.arange(1.0, 201.0), np.full(100, np.nan)]
    ref = reference_distribution(pd.DataFrame({"x": values}), ["x"], bins=10)
    feature = ref.features[0]
    assert feature.labels[0] == "<= 0" and feature.labels[-1] == MISSING
    assert len(feature.shares) == len(feature.cuts) + 2 < 12
    assert feature.shares[0] == pytest.approx(0.7) and feature.shares[-1] == pytest.approx(0.1)

    more_missing = pd.DataFrame({"x": np.r_[values[:-100][::2], np.full(450, np.nan)]})
    shift = feature_shifts(ref, more_missing)[0][0]
    assert shift.actual[-1] == pytest.approx(0.5)
    assert shift.psi > 0.25


def test_unseen_and_rare_categories_count_as_other() -> None:
    train = pd.DataFrame({"plan": ["pro"] * 50 + ["basic"] * 30 + ["max"] * 15 + ["tiny"] * 5})
    ref = reference_distribution(train, ["plan"], ["plan"], max_levels=3)
    feature = ref.features[0]
    assert feature.levels == ("pro", "basic", "max")
    assert feature.labels == ["pro", "basic", "max", OTHER, MISSING]
    assert feature.shares == pytest.approx((0.5, 0.3, 0.15, 0.05, 0.0))

    now = pd.DataFrame({"plan": ["pro"] * 50 + ["basic"] * 30 + ["enterprise"] * 15 + [None] * 5})
    shift = feature_shifts(ref, now)[0][0]
    assert shift.actual == pytest.approx([0.5, 0.3, 0.0, 0.15, 0.05])
    assert np.isfinite(shift.psi) and shift.psi > 0.25


def test_a_feature_the_rows_lack_is_reported_not_compared() -> None:
    frame = make_snapshots(300, seed=4)
    shifts, absent = feature_shifts(reference(frame), frame.drop(columns=["nps"]))
    assert absent == ["nps"] and "nps" not in {s.name for s in shifts}


def test_the_largest_shift_comes_first() -> None:
    frame = make_snapshots(2000, seed=5)
    now = frame.assign(logins_30d=frame["logins_30d"] * 3, tickets_90d=frame["tickets_90d"] + 1)
    shifts, _ = feature_shifts(reference(frame), now)
    assert [s.name for s in shifts[:2]] == ["logins_30d", "tickets_90d"]
    assert shifts[0].psi > shifts[1].psi > 0.1 and psi_of(shifts, "nps") == 0.0


def test_psi_is_symmetric_finite_and_rejects_mismatched_bins() -> None:
    e, a = np.array([10.0, 0.0, 5.0]), np.array([3.0, 4.0, 0.0])
    assert population_stability_index(e, a) == pytest.approx(population_stability_index(a, e))
    assert np.isfinite(population_stability_index(e, a))
    assert population_stability_index([1, 2], [10, 20]) == 0.0  # counts are normalised
    assert np.isnan(population_stability_index([1, 2], [0, 0]))
    with pytest.raises(ValueError, match="different bins"):
        population_stability_index([1, 2], [1, 2, 3])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=2, max_size=12).flatmap(
        lambda e: st.tuples(
            st.just(e), st.lists(st.integers(0, 1000), min_size=len(e), max_size=len(e))
        )
    )
)
def test_psi_is_never_negative_and_zero_only_for_equal_shares(
    counts: tuple[list[int], list[int]],
) -> None:
    expected, actual = counts
    psi = population_stability_index(expected, actual)
    if sum(expected) == 0 or sum(actual) == 0:
        assert np.isnan(psi)
        return
    assert psi >= 0.0
    assert population_stability_index(expected, expected) == 0.0


def test_the_reference_survives_json_and_a_saved_model(
    fitted_model: HealthModel, tmp_path: Path
) -> None:
    frame = make_snapshots(500, seed=6)
    ref = reference(frame)
    assert DriftReference.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref
    assert reference_of({}) is None

    pieces = [p.piece for p in fitted_model.profiles_.values()]
    model = HealthModel(make_feature_set(), routing(), default_profile="default")
    model.fit(pieces, metadata={**fitted_model.metadata_, REFERENCE_KEY: ref.to_dict()})
    loaded = HealthModel.load(model.save(tmp_path / "model"))
    assert reference_of(loaded.metadata_) == ref
    assert reference_of(fitted_model.metadata_) is None  # saved before references: no drift


def test_calibration_gap_of_calibrated_and_biased_probabilities() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(0.0, 0.4, 20_000)
    y = (rng.random(p.size) < p).astype(int)
    calibrated = calibration_gap(y, p)
    assert calibrated.count == p.size
    assert abs(calibrated.gap) < 0.01 and calibrated.ece < 0.02
    biased = calibration_gap(y, np.clip(p + 0.1, 0, 1))
    assert biased.gap == pytest.approx(calibrated.gap + 0.1)
    assert biased.ece > 0.08
    assert calibration_gap(y, p).observed == pytest.approx(y.mean())
    with pytest.raises(ValueError, match="no rows"):
        calibration_gap([], [])
