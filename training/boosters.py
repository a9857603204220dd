"""Per-profile boosters and calibrators: the pieces a HealthModel is assembled from.

1. The pooled booster is fitted on every training row (all profiles), early-stopped on every
   calibration row. It is also the "one pooled LightGBM" baseline, calibrated on the whole
   calibration window.
2. A profile gets its own booster when its training rows hold at least ``min_train_snapshots``
   snapshots and ``min_train_churners`` churners (its settings, or the defaults of
   :class:`~vitals.config.settings.ProfileConfig`) and its calibration rows hold at least
   ``min_calibration_churners`` churners and some non-churners. By default (``profile_init =
   "pooled"``) the own booster continues boosting from the pooled booster on the profile's rows,
   early-stopped on the profile's calibration rows: a profile with a few thousand rows starts
   from what all profiles share and learns only what differs; ``"scratch"`` trains it alone.
3. Other profiles use the pooled booster (``pooled=True``) with a calibrator fitted on their own
   calibration rows when those hold ``min_calibration_churners`` churners, else the pooled
   calibrator.

Calibrators are chosen per profile by :func:`vitals.training.calibrate.choose_calibrator`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np

from vitals.config.settings import ProfileConfig, TrainingSettings
from vitals.models.profiles import ProfileModel, ProfileRouter
from vitals.training.calibrate import CalibrationChoice, choose_calibrator
from vitals.training.data import PROFILE, design_matrix, labels
from vitals.training.fit import BoosterFit, Sample, fit_booster, margins
from vitals.training.splits import TimeSplit
from vitals.training.tuning import TrialCallback, tune_booster

logger = logging.getLogger(__name__)

POOLED = "pooled"


@dataclass(frozen=True)
class FitOptions:
    """How boosters are fitted (from the training settings and the command's options)."""

    params: dict[str, object]
    settings: TrainingSettings
    trials: int
    timeout_s: float | None
    seed: int


@dataclass(frozen=True)
class FittedBoosters:
    """The pooled booster, its calibration, and one piece per profile.

    Attributes:
        pooled: the pooled booster fit.
        pooled_calibration: the pooled booster's calibrator on the whole calibration window.
        pieces: one :class:`~vitals.models.profiles.ProfileModel` per routable profile.
        summaries: per profile, JSON-able facts (own or pooled, rows, churners, calibration,
            trees, tuning), and the same for ``pooled``.
    """

    pooled: BoosterFit
    pooled_calibration: CalibrationChoice
    pieces: list[ProfileModel]
    summaries: dict[str, dict[str, object]] = field(default_factory=dict)


def fit_boosters(
    split: TimeSplit,
    features: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    router: ProfileRouter,
    rules: Sequence[ProfileConfig],
    options: FitOptions,
    on_trial: TrialCallback | None = None,
) -> FittedBoosters:
    """Fit the pooled booster, each profile's own booster where data allow, and calibrators.

    Args:
        split: the time split (rows carry a ``profile`` column).
        features: booster features, in order.
        categories: training levels per categorical feature.
        router: the profile router (its ``profile_names`` get one piece each).
        rules: the settings' profiles (data thresholds per profile).
        options: parameters, settings, trials, time budget and seed.
        on_trial: called after each tuning trial with ``(booster name, trial)``.

    Returns:
        The :class:`FittedBoosters`.
    """
    train = Sample(design_matrix(split.train, features, categories), labels(split.train))
    valid = Sample(
        design_matrix(split.calibration, features, categories), labels(split.calibration)
    )
    train_profile = split.train[PROFILE].to_numpy()
    valid_profile = split.calibration[PROFILE].to_numpy()
    groups = split.calibration["account_id"].to_numpy(dtype=object)
    settings = options.settings
    configs = {r.name: r for r in rules}
    own = [
        n
        for n in router.profile_names
        if _enough(
            configs.get(n) or ProfileConfig(name=n),
            train.subset(train_profile == n),
            valid.subset(valid_profile == n),
            settings.min_calibration_churners,
        )
    ]
    budget = None if options.timeout_s is None else options.timeout_s / (1 + len(own))
    fitter = _Fitter(options, budget, on_trial)

    pooled, pooled_facts = fitter.fit(POOLED, train, valid, None)
    pooled_calibration = _calibrate(pooled.booster, valid, groups, options)
    base_rate = train.churners / len(train)
    pieces, summaries = [], {POOLED: {**pooled_facts, "calibration": pooled_calibration.to_dict()}}
    for name in router.profile_names:
        t_rows, v_rows = train_profile == name, valid_profile == name
        facts: dict[str, object] = {
            "pooled": name not in own,
            "train_snapshots": int(t_rows.sum()),
            "train_churners": int(train.y[t_rows].sum()),
        }
        booster = pooled.booster
        if name in own:
            init = pooled.booster if settings.profile_init == "pooled" else None
            fit, booster_facts = fitter.fit(name, train.subset(t_rows), valid.subset(v_rows), init)
            booster = fit.booster
            facts.update(booster_facts, init=settings.profile_init)
        if int(valid.y[v_rows].sum()) >= settings.min_calibration_churners:
            choice = _calibrate(booster, valid.subset(v_rows), groups[v_rows], options)
            facts["calibration"] = choice.to_dict()
        else:
            choice = pooled_calibration
            facts["calibration"] = {**choice.to_dict(), "shared": True}
        rate = float(train.y[t_rows].mean()) if t_rows.any() else base_rate
        pieces.append(
            ProfileModel(
                name,
                booster,
                choice.calibrator,
                rate if 0.0 < rate < 1.0 else base_rate,
                name not in own,
                categories={k: list(v) for k, v in categories.items()},
            )
        )
        summaries[name] = facts
    logger.info("own boosters for %s; pooled for the rest", own or "no profile")
    return FittedBoosters(pooled, pooled_calibration, pieces, summaries)


def _enough(config: ProfileConfig, train: Sample, valid: Sample, min_cal_churners: int) -> bool:
    return (
        len(train) >= config.min_train_snapshots
        and train.churners >= config.min_train_churners
        and min_cal_churners <= valid.churners < len(valid)
    )


def _calibrate(
    booster: lgb.Booster, valid: Sample, groups: np.ndarray, options: FitOptions
) -> CalibrationChoice:
    return choose_calibrator(
        margins(booster, valid.X),
        valid.y,
        groups=groups,
        folds=options.settings.calibration_folds,
        seed=options.seed,
    )


@dataclass
class _Fitter:
    options: FitOptions
    timeout_s: float | None
    on_trial: TrialCallback | None

    def fit(
        self, name: str, train: Sample, valid: Sample, init_model: lgb.Booster | None
    ) -> tuple[BoosterFit, dict[str, object]]:
        s = self.options.settings
        kw = {
            "num_boost_round": s.num_boost_round,
            "early_stopping_rounds": s.early_stopping_rounds,
            "init_model": init_model,
        }
        facts: dict[str, object] = {"train_snapshots": len(train), "train_churners": train.churners}
        if self.options.trials > 0:
            result = tune_booster(
                name,
                self.options.params,
                train,
                valid,
                n_trials=self.options.trials,
                timeout=self.timeout_s,
                seed=self.options.seed,
                on_trial=self.on_trial,
                **kw,
            )
            fit = result.fit
            facts["tuning"] = {
                "trials": result.trials,
                "pruned": result.pruned,
                "best_params": result.best_params,
            }
        else:
            fit = fit_booster(self.options.params, train, valid, **kw)
        facts.update(trees=fit.best_iteration, validation_auc=fit.best_score)
        logger.info(
            "%s booster: %d trees, validation AUC %.4f", name, fit.best_iteration, fit.best_score
        )
        return fit, facts
