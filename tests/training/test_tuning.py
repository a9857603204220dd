"""Optuna search: the search space, seeded repeatability, per-trial callbacks."""

from __future__ import annotations

import lightgbm as lgb
import optuna
import pytest

from vitals.training.data import categories_of, design_matrix, labels
from vitals.training.fit import Sample, base_params
from vitals.training.pipeline import TrainingOutcome
from vitals.training.tuning import TrialCallback, TuningResult, suggest_params, tune_booster


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


def test_search_space_is_a_plain_function_of_the_trial(
    samples: tuple[Sample, Sample, dict[str, object]],
) -> None:
    chosen = {
        "learning_rate": 0.07, "num_leaves": 9, "min_data_in_leaf": 40, "feature_fraction": 0.6,
        "bagging_fraction": 0.9, "lambda_l2": 2.0, "cat_smooth": 5.0, "min_data_per_group": 80,
        "scale_pos_weight": 3.0,
    }  # fmt: skip
    assert suggest_params(optuna.trial.FixedTrial(chosen)) == chosen

    def draws(seed: int) -> list[dict[str, object]]:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        return [suggest_params(study.ask()) for _ in range(5)]

    assert draws(0) == draws(0) != draws(1)
    train, _, params = samples
    for drawn in draws(0):  # every draw is a parameter set LightGBM trains with
        booster = lgb.train({**params, **drawn}, lgb.Dataset(train.X, train.y), 2)
        splittable = 2 * int(drawn["min_data_in_leaf"]) <= len(train.y)  # type: ignore[call-overload]
        assert booster.current_iteration() == (2 if splittable else 1)


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
