"""The rule-based health score and the logistic regression baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vitals.training.baselines import RULE_WEIGHTS, RuleScore, logistic_baseline, logistic_input
from vitals.training.pipeline import TrainingOutcome


def rule_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.gamma(2.0, 2.0, n) for name, _, _ in RULE_WEIGHTS})
    frame.loc[rng.random(n) < 0.2, "nps_avg_180d"] = np.nan
    return frame


def test_weights_sum_to_one() -> None:
    assert sum(w for _, w, _ in RULE_WEIGHTS) == pytest.approx(1.0)


def test_rule_score_is_0_to_100_and_moves_with_each_feature_direction() -> None:
    rules = RuleScore().fit(rule_frame(500, 1))
    frame = rule_frame(200, 2)
    score = rules.score(frame)
    assert score.min() >= 0.0 and score.max() <= 100.0
    for name, _, healthier_up in RULE_WEIGHTS:
        better = frame.copy()
        better[name] = better[name] * (1.5 if healthier_up else 0.5)
        changed = rules.score(better) - score
        assert (changed >= -1e-9).all() and (changed > 0).any(), name


def test_missing_features_drop_out_and_missing_values_are_neutral() -> None:
    frame = rule_frame(300, 3)[["active_days_30d", "open_tickets"]]
    rules = RuleScore().fit(frame)
    assert sum(w for _, w, _ in rules.used_) == pytest.approx(1.0)
    empty = pd.DataFrame({"active_days_30d": [np.nan], "open_tickets": [np.nan]})
    assert rules.score(empty)[0] == pytest.approx(50.0)


def test_logistic_baseline_handles_missing_and_unseen_levels() -> None:
    rng = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.exponential(5.0, n),
            "plan": rng.choice(np.array(["a", "b", None], dtype=object), n),
        }
    )
    frame.loc[rng.random(n) < 0.2, "x"] = np.nan
    y = (rng.random(n) < 0.3).astype(int)
    model = logistic_baseline(["x", "z"], ["plan"], seed=0)
    model.fit(logistic_input(frame, ["x", "z"], ["plan"]), y)
    new = pd.DataFrame({"x": [np.nan, 1.0], "z": [1.0, 2.0], "plan": ["never seen", None]})
    p = model.predict_proba(logistic_input(new, ["x", "z"], ["plan"]))[:, 1]
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()


def test_baselines_are_scored_on_the_same_test_rows(outcome: TrainingOutcome) -> None:
    n = len(outcome.split.test)
    for name in ("rules", "logistic", "pooled"):
        p = outcome.probabilities[name]
        assert p.shape == (n,) and ((p >= 0) & (p <= 1)).all()
    facts = outcome.report["baselines"]
    assert facts["rules"]["calibration"]["method"] == "sigmoid"
    assert set(facts["rules"]["calibration"]["features"]) <= {n for n, _, _ in RULE_WEIGHTS}
