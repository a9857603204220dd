"""Metrics against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from vitals.training.metrics import (
    METRICS,
    classification_metrics,
    expected_calibration_error,
    top_share,
)


def test_ece_by_hand_on_two_bins() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.6])
    # bins {0.1, 0.3}: |0 - 0.2| = 0.2 ; {0.6, 0.6}: |1 - 0.6| = 0.4 ; half the rows each
    assert expected_calibration_error(y, p, bins=2) == pytest.approx(0.3)


def test_ece_is_small_when_calibrated_and_one_for_confident_mistakes() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.4, 50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.1, 0, 1)) == pytest.approx(0.1, abs=0.01)
    assert expected_calibration_error(y, 1.0 - y) == pytest.approx(1.0, abs=0.01)


def test_lift_and_recall_in_the_riskiest_tenth() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 2)  # 4 churners in 20 rows, base rate 0.2
    p = np.linspace(1.0, 0.0, 20)  # rows 0 and 1 are the riskiest 10 %: one churner
    lift, recall = top_share(y, p)
    assert lift == pytest.approx((1 / 2) / 0.2)
    assert recall == pytest.approx(1 / 4)


def test_metrics_of_a_perfect_ranking() -> None:
    y = np.array([0] * 90 + [1] * 10)
    p = np.concatenate([np.full(90, 0.01), np.full(10, 0.99)])
    m = classification_metrics(y, p)
    assert list(m) == list(METRICS)
    assert m["auc"] == 1.0 and m["pr_auc"] == pytest.approx(1.0)
    assert m["lift_top10"] == pytest.approx(10.0) and m["recall_top10"] == 1.0
    assert m["snapshots"] == 100 and m["churners"] == 10
    assert m["brier"] == pytest.approx(0.01**2)


def test_undefined_metrics_are_none_with_one_class() -> None:
    m = classification_metrics(np.zeros(10), np.full(10, 0.1))
    assert m["auc"] is None and m["pr_auc"] is None and m["lift_top10"] is None
    assert m["log_loss"] == pytest.approx(-np.log(0.9))


def test_log_loss_stays_finite_for_certain_mistakes() -> None:
    m = classification_metrics(np.array([0, 1]), np.array([1.0, 0.0]))
    assert np.isfinite(m["log_loss"])


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="as many probabilities"):
        classification_metrics(np.zeros(3), np.zeros(2))
