"""Choosing isotonic or sigmoid calibration by cross-validation."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from vitals.training.calibrate import choose_calibrator
from vitals.training.metrics import expected_calibration_error


def outcomes(margin: np.ndarray, truth: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(margin)) < truth).astype(int)


def test_a_small_set_chooses_sigmoid() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(-2.5, 1.0, 300)
    choice = choose_calibrator(margin, outcomes(margin, expit(margin), 2), folds=5, seed=0)
    assert choice.method == "sigmoid"
    assert choice.cv_log_loss["sigmoid"] <= choice.cv_log_loss["isotonic"]


def test_a_large_set_with_a_non_sigmoid_shape_chooses_isotonic() -> None:
    rng = np.random.default_rng(3)
    margin = rng.normal(0.0, 1.5, 40_000)
    truth = np.where(margin > 0.5, 0.6, 0.03)  # a step: no sigmoid fits it
    choice = choose_calibrator(margin, outcomes(margin, truth, 4), folds=5, seed=0)
    assert choice.method == "isotonic"
    p = choice.calibrator.transform(margin)
    assert p.min() >= 0.0 and p.max() <= 1.0


def test_too_few_churners_skip_the_contest() -> None:
    margin = np.linspace(-3, 3, 50)
    y = np.zeros(50, dtype=int)
    y[[10, 40]] = 1
    choice = choose_calibrator(margin, y, folds=5)
    assert choice.method == "sigmoid" and choice.cv_log_loss == {}


def test_calibration_fixes_a_shifted_margin_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    truth_margin = rng.normal(-2.0, 1.0, 5000)
    y = outcomes(truth_margin, expit(truth_margin), 6)
    shifted = 2.0 * truth_margin + 3.0  # what an uncalibrated booster might output
    groups = rng.integers(0, 800, 5000).astype(str)
    first = choose_calibrator(shifted, y, groups=groups, seed=7)
    again = choose_calibrator(shifted, y, groups=groups, seed=7)
    assert first.cv_log_loss == again.cv_log_loss
    calibrated = first.calibrator.transform(shifted)
    assert (
        expected_calibration_error(y, calibrated)
        < 0.02
        < expected_calibration_error(y, expit(shifted))
    )
