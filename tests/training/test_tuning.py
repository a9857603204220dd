"""Optuna search: the search space, seeded repeatability, per-trial callbacks."""

from __future__ import annotations

import optuna
import pytest

from training.data import categories_of, design_matrix, labels
from training.fit import Sample, base_params
from training.pipeline import TrainingOutcome
from training.tuning import TrialCallback, TuningResult, suggest_params, tune_booster


@pytest.fixture(scope="module")
def samples(outcome: TrainingOutcome) -> tuple[Sample, Sample, dict[str, object]]:
    features = outcome.model.feature_names_
    categorical = [n for n in features if outcome.model.catalog_[n].kind == "categorical"]
    categories = categories_of(outcome.split.train, categorical)
    train, valid = outcome.split.train, outcome.split.calibration
    params = base_params(
        {"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 50}, seed=3, num_threads=1
    )
    return (
        Sample(design_matrix(train, features, categories), labels(train)),
        Sample(design_matrix(valid, features, categories), labels(valid)),
        params,
    )


def test_search_space_is_a_plain_function_of_the_trial() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = suggest_params(study.ask())
        assert 0.01 <= params["learning_rate"] <= 0.2
        assert 4 <= params["num_leaves"] <= 96
        assert 1.0 <= params["scale_pos_weight"] <= 20.0


def test_tuning_is_seeded_and_reports_each_trial(
    samples: tuple[Sample, Sample, dict[str, object]],
) -> None:
    train, valid, params = samples
    seen: list[tuple[str, int]] = []

    def tune(callback: TrialCallback | None = None) -> TuningResult:
        return tune_booster(
            "pooled",
            params,
            train,
            valid,
            n_trials=4,
            timeout=None,
            seed=5,
            num_boost_round=200,
            early_stopping_rounds=20,
            on_trial=callback,
        )

    first = tune(lambda name, trial: seen.append((name, trial.number)))
    second = tune()
    assert seen == [("pooled", i) for i in range(4)]
    assert first.trials == 4 and 0 <= first.pruned < 4
    assert first.best_params == second.best_params
    assert first.fit.best_score == pytest.approx(second.fit.best_score, abs=1e-12)
    assert first.fit.booster.model_to_string() == second.fit.booster.model_to_string()
