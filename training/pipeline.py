"""Snapshots in, fitted HealthModel and evaluation report out (no MLflow here).

Order of work, each step seeing only the windows it may see: split by time; fit the pooled and
per-profile boosters on the training window, early-stopped (and tuned) on the calibration
window; choose and fit calibrators on the calibration window; fit the baselines the same way;
only then score the test window, once, for every model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.drift import REFERENCE_KEY, reference_distribution
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel, ProfileRouter
from vitals.training import plots
from vitals.training.assemble import profile_rules, unfitted_model
from vitals.training.attribute_check import check_attributes
from vitals.training.baselines import score_baselines
from vitals.training.boosters import POOLED, FitOptions, FittedBoosters, fit_boosters
from vitals.training.data import PROFILE, categories_of, design_matrix, labels
from vitals.training.evaluate import MODEL, build_report
from vitals.training.fit import base_params, margins
from vitals.training.null_importance import null_importance
from vitals.training.scorecard_eval import scorecard_section, training_scorecards
from vitals.training.selection import training_features
from vitals.training.sentiment_eval import sentiment_section
from vitals.training.splits import TimeSplit, training_split
from vitals.training.survival import FollowUp, fit_survival
from vitals.training.survival_report import survival_report
from vitals.training.tuning import TrialCallback

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOutcome:
    """Everything one training produced.

    Attributes:
        model: the fitted HealthModel.
        report: the evaluation report (schema in :mod:`vitals.training.evaluate`).
        split: the time split.
        boosters: the fitted boosters and calibrators.
        test_scores: the model's ``predict`` output on the test rows.
        probabilities: test churn probabilities per model (``vitals`` and the baselines).
    """

    model: HealthModel
    report: dict[str, object]
    split: TimeSplit
    boosters: FittedBoosters
    test_scores: pd.DataFrame
    probabilities: dict[str, np.ndarray]

    @property
    def test_labels(self) -> np.ndarray:
        """0/1 outcomes of the test rows."""
        return labels(self.split.test)


def fit_and_evaluate(
    snapshots: Snapshots,
    settings: Settings,
    *,
    trials: int = 0,
    timeout_s: float | None = None,
    seed: int | None = None,
    history_start: date | None = None,
    metadata: Mapping[str, object] | None = None,
    on_trial: TrialCallback | None = None,
) -> TrainingOutcome:
    """Train the HealthModel and the baselines on snapshots and evaluate them out of time.

    Args:
        snapshots: labelled feature snapshots (their horizon is the model's).
        settings: profiles, bands and ``settings.training`` (windows, LightGBM defaults, ...).
        trials: Optuna trials per booster (0: the settings' LightGBM defaults).
        timeout_s: tuning time budget for the whole run, in seconds.
        seed: seed of LightGBM, Optuna, the calibration folds and the baselines (default: the
            settings' seed).
        history_start: first event date of the data (estimated from the snapshots if ``None``).
        metadata: extra JSON-able facts stored with the model.
        on_trial: called after each tuning trial.

    Returns:
        The :class:`TrainingOutcome`.

    Raises:
        TrainingError: data that cannot train a model (the message says what to change).
    """
    config = settings.training
    seed = settings.seed if seed is None else seed
    settings = settings.model_copy(update={"horizon_days": snapshots.horizon_days})
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    split = training_split(snapshots, settings, history_start)
    declared = [s.name for s in snapshots.catalog if s.kind == "categorical"]
    features, dropped = training_features(split.train, snapshots, config.min_sentiment_share)
    if dropped:
        logger.info("%d features do not vary in the training window: %s", len(dropped), dropped)
    scorecards = training_scorecards(
        settings.scorecard, snapshots.feature_names, dropped, declared, router.profile_names
    )
    categorical = [n for n in declared if n in features]
    categories = categories_of(split.train, categorical)
    params = base_params(config.lightgbm, seed=seed, num_threads=config.num_threads)
    checked = check_attributes(split, features, categories, params, config)
    if checked.dropped:
        logger.info("attributes no better on the validation window: %s", checked.dropped)
        dropped.update({n: "no better on the validation window" for n in checked.dropped})
        features = checked.features
        categorical = [n for n in categorical if n in features]
        categories = {n: v for n, v in categories.items() if n in features}
    options = FitOptions(params, config, trials, timeout_s, seed)
    boosters = fit_boosters(
        split, features, categories, router, settings.profiles, options, on_trial
    )
    facts = {
        "seed": seed,
        "trials": trials,
        "windows": split.to_dict(),
        "dropped_features": dropped,
        REFERENCE_KEY: reference_distribution(
            split.train,
            features,
            categorical,
            bins=settings.drift.bins,
            max_levels=settings.drift.max_levels,
        ).to_dict(),
        **(metadata or {}),
    }

    def assemble(pieces: list[ProfileModel]) -> HealthModel:
        return unfitted_model(snapshots.feature_set, settings).fit(pieces, metadata=facts)

    follow_up = FollowUp(snapshots.data_end, snapshots.grace_days, snapshots.horizon_days)
    survival = fit_survival(
        split,
        boosters,
        features,
        categories,
        router,
        settings.profiles,
        options,
        follow_up,
        assemble,
    )
    model = assemble(survival.pieces)

    test = split.test
    scores = model.predict(test)
    pooled_margin = margins(boosters.pooled.booster, design_matrix(test, features, categories))
    numeric = [n for n in features if n not in categories]
    baselines = score_baselines(
        split, numeric, categorical, seed=seed, folds=config.calibration_folds
    )
    probabilities = {
        MODEL: scores["churn_probability"].to_numpy(),
        **baselines.probabilities,
        POOLED: boosters.pooled_calibration.calibrator.transform(pooled_margin),
    }
    pooled_facts = dict(boosters.summaries[POOLED])
    pooled = boosters.pooled
    train_matrix = design_matrix(split.train, features, categories)
    shadows = null_importance(
        train_matrix, labels(split.train), pooled.params, pooled.best_iteration, seed
    )
    report = build_report(
        y=labels(test),
        profiles=test[PROFILE].to_numpy(),
        probabilities=probabilities,
        profile_names=router.profile_names,
        split=split,
        horizon_days=snapshots.horizon_days,
        seed=seed,
        profile_facts={n: boosters.summaries[n] for n in router.profile_names},
        baseline_facts={**baselines.facts, POOLED: pooled_facts},
    )
    report["scorecards"] = scorecard_section(
        split, scorecards, probabilities[MODEL], router.profile_names
    )
    report["sentiment"] = sentiment_section(
        split.test, labels(split.test), np.asarray(probabilities[MODEL])
    )
    for name in router.profile_names:
        report["profiles"][name]["survival"] = survival.facts[name]  # type: ignore[index]
    report["survival"] = {
        **survival_report(model, split, follow_up),
        "pooled": survival.facts[POOLED],
    }
    report["features"] = {
        "declared": len(snapshots.feature_names),
        "used": len(features),
        "dropped": dropped,
        "attribute_check": checked.report,
        "null_importance": shadows,
    }
    return TrainingOutcome(model, report, split, boosters, scores, probabilities)


def figures(outcome: TrainingOutcome, seed: int = 0) -> dict[str, Figure]:
    """The run's plots by artifact path: ROC, reliability, lift, bands, SHAP per profile."""
    y = outcome.test_labels
    test = outcome.split.test
    profiles = list(outcome.model.profiles_)
    drawn = {
        "plots/roc.png": plots.roc_figure(y, outcome.probabilities),
        "plots/reliability.png": plots.reliability_figure(y, outcome.probabilities),
        "plots/lift.png": plots.lift_figure(y, outcome.probabilities),
        "plots/score_bands.png": plots.band_figure(outcome.test_scores, y, profiles),
    }
    survival = outcome.report.get("survival", {})
    if isinstance(survival, dict) and survival.get("available"):
        drawn["plots/survival.png"] = plots.survival_figure(survival["mean_curve"])
    for name in profiles:
        rows = test[test[PROFILE] == name]
        if rows.empty:
            continue
        contributions = outcome.model.contributions(rows)
        kind = "pooled booster" if outcome.model.profiles_[name].piece.pooled else "own booster"
        drawn[f"plots/shap_{name}.png"] = plots.shap_summary_figure(
            contributions,
            rows[outcome.model.feature_names_],
            f"SHAP summary: {name} ({kind})",
            seed=seed,
        )
    return drawn
