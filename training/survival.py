"""Fitting each profile's survival pieces beside its fixed-horizon booster.

The fixed-horizon boosters (:func:`vitals.training.boosters.fit_boosters`, tuned when asked) become
the risk curve's anchor. Two more sets are fitted the same way, on the same windows, with the
anchor's tuned parameters (no second search, to keep training time near what it was):

* the *health* boosters, on rows whose calendar features
  (:data:`~vitals.models.calendar.CALENDAR_FEATURES`) are blanked, so they never split on them:
  health cannot move with the calendar, and timing is never a health reason;
* the *step* boosters, the discrete-time hazard: the label is a churn within the next
  :data:`~vitals.models.survival.STEP_DAYS` days (known for every usable row, whose label already
  needs a longer follow-up).

Then the curve is recalibrated at each other horizon on the calibration rows followed up that
long (see :func:`fit_recalibrators`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
from scipy.special import logit

from vitals.config.settings import ProfileConfig
from vitals.models.calendar import CALENDAR_FEATURES
from vitals.models.calibration import Calibrator
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel, ProfileRouter
from vitals.models.survival import HORIZONS, STEP_DAYS, RiskPiece
from vitals.training.boosters import POOLED, FitOptions, FittedBoosters, fit_boosters
from vitals.training.calibrate import choose_calibrator
from vitals.training.data import LABEL, PROFILE
from vitals.training.splits import TimeSplit

logger = logging.getLogger(__name__)

_CLIP = 1e-9


@dataclass(frozen=True)
class SurvivalPieces:
    """Each profile's piece with health and risk boosters, and what training learnt about them.

    Attributes:
        pieces: one piece per routable profile, ready for ``HealthModel.fit``.
        facts: per profile, the health and step boosters' facts and the recalibration.
    """

    pieces: list[ProfileModel]
    facts: dict[str, dict[str, object]]


def fit_survival(
    split: TimeSplit,
    anchor: FittedBoosters,
    features: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    router: ProfileRouter,
    rules: Sequence[ProfileConfig],
    options: FitOptions,
    follow_up: FollowUp,
    assemble: Callable[[list[ProfileModel]], HealthModel],
) -> SurvivalPieces:
    """Fit the health and step boosters of every profile and recalibrate the curve.

    Args:
        split: the time split.
        anchor: the fixed-horizon boosters and calibrators (the curve's level at the horizon).
        features: booster features, in order.
        categories: training levels per categorical feature.
        router: the profile router.
        rules: the settings' profiles.
        options: the anchor's options; its tuned pooled parameters are reused, untuned.
        follow_up: how far each row's outcome is known.
        assemble: builds a HealthModel from pieces (to score the calibration rows).

    Returns:
        The :class:`SurvivalPieces`.
    """
    step = min(STEP_DAYS, follow_up.horizon_days)
    reused = replace(options, params=_tuned(options.params, anchor), trials=0, timeout_s=None)
    args = (features, categories, router, rules, reused)
    health = fit_boosters(blank_calendar(split), *args)
    stepped = fit_boosters(relabelled(split, follow_up, step), *args)
    anchors = {p.name: p for p in anchor.pieces}
    steps = {p.name: p for p in stepped.pieces}
    pieces = [
        replace(
            piece,
            risk=RiskPiece(
                anchors[piece.name].booster,
                anchors[piece.name].calibrator,
                steps[piece.name].booster,
                steps[piece.name].calibrator,
                step,
            ),
        )
        for piece in health.pieces
    ]
    recalibrators, recalibration = fit_recalibrators(
        assemble(pieces), split.calibration, follow_up, options
    )
    pieces = [
        replace(p, risk=replace(p.risk, recalibrators=recalibrators.get(p.name, {})))
        for p in pieces
        if p.risk is not None
    ]
    facts = {
        name: {
            "health_booster": health.summaries[name],
            "step_booster": stepped.summaries[name],
            "recalibration": recalibration.get(name, {}),
        }
        for name in router.profile_names
    }
    facts[POOLED] = {
        "health_booster": health.summaries[POOLED],
        "step_booster": stepped.summaries[POOLED],
        "step_days": step,
    }
    return SurvivalPieces(pieces, facts)


@dataclass(frozen=True)
class FollowUp:
    """How far past its ``as_of`` each row's outcome is known.

    Attributes:
        data_end: the data's last day.
        grace_days: the churn definition's grace gap (a churn is known once it has passed).
        horizon_days: the model's horizon.
    """

    data_end: date
    grace_days: int
    horizon_days: int

    def days(self, frame: pd.DataFrame) -> np.ndarray:
        """Days of known outcome after each row's ``as_of`` (data end minus the grace gap)."""
        end = pd.Timestamp(self.data_end) + pd.Timedelta(days=1 - self.grace_days)
        return (end - frame["as_of"]).dt.days.to_numpy(dtype=np.float64)

    def churn_in(self, frame: pd.DataFrame) -> np.ndarray:
        """Days from ``as_of`` to the known churn (NaN when none is known)."""
        churn = pd.to_datetime(frame["churn_date"])
        return (churn - frame["as_of"]).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)

    def churned_within(self, frame: pd.DataFrame, days: int) -> np.ndarray:
        """0/1 churn within ``days`` per row (only meaningful where the follow-up covers it)."""
        return (self.churn_in(frame) < days).astype(np.int8)


def blank_calendar(split: TimeSplit) -> TimeSplit:
    """The split with every calendar feature set to missing (a booster cannot split on it)."""

    def blank(frame: pd.DataFrame) -> pd.DataFrame:
        present = [c for c in CALENDAR_FEATURES if c in frame.columns]
        return frame.assign(**{c: np.nan for c in present})

    return replace(
        split,
        train=blank(split.train),
        calibration=blank(split.calibration),
        test=blank(split.test),
    )


def relabelled(split: TimeSplit, follow_up: FollowUp, days: int) -> TimeSplit:
    """The split with labels "churned within ``days``" (rows' labels need a longer follow-up)."""

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{LABEL: follow_up.churned_within(frame, days)})

    return replace(
        split,
        train=label(split.train),
        calibration=label(split.calibration),
        test=label(split.test),
    )


def fit_recalibrators(
    model: HealthModel, calibration: pd.DataFrame, follow_up: FollowUp, options: FitOptions
) -> tuple[dict[str, dict[int, Calibrator]], dict[str, dict[str, object]]]:
    """Recalibrate the curve at each horizon other than the model's, per profile.

    A horizon is recalibrated on the calibration rows followed up at least that long, per profile
    when those hold ``min_calibration_churners`` churners and some stayers, else on every
    profile's rows when they do; otherwise the curve keeps its own value there.

    Returns:
        Recalibrators per profile and horizon, and what was done (rows, churners, method).
    """
    scores = model.predict(calibration)
    known = follow_up.days(calibration)
    profile = calibration[PROFILE].to_numpy()
    groups = calibration["account_id"].to_numpy(dtype=object)
    chosen: dict[str, dict[int, Calibrator]] = {n: {} for n in model.profiles_}
    facts: dict[str, dict[str, object]] = {n: {} for n in model.profiles_}
    for days in HORIZONS:
        if days == follow_up.horizon_days:
            continue
        risk = logit(np.clip(scores[f"risk_{days}d"].to_numpy(), _CLIP, 1 - _CLIP))
        sample = _Sample(risk, follow_up.churned_within(calibration, days), groups, options)
        followed = known >= days
        shared, shared_facts = sample.fit(followed)
        for name in model.profiles_:
            own, own_facts = sample.fit(followed & (profile == name))
            if own is not None:
                chosen[name][days], facts[name][f"{days}d"] = own, own_facts
            elif shared is not None:
                chosen[name][days] = shared
                facts[name][f"{days}d"] = {**shared_facts, "shared": True}
            else:
                facts[name][f"{days}d"] = {**own_facts, "reason": "too little follow-up"}
    return chosen, facts


@dataclass(frozen=True)
class _Sample:
    risk: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    options: FitOptions

    def fit(self, rows: np.ndarray) -> tuple[Calibrator | None, dict[str, object]]:
        settings = self.options.settings
        churners, count = int(self.y[rows].sum()), int(rows.sum())
        if not settings.min_calibration_churners <= churners < count:
            return None, {"rows": count, "churners": churners, "method": None}
        choice = choose_calibrator(
            self.risk[rows],
            self.y[rows],
            groups=self.groups[rows],
            folds=settings.calibration_folds,
            seed=self.options.seed,
        )
        return choice.calibrator, choice.to_dict()


def _tuned(params: Mapping[str, object], anchor: FittedBoosters) -> dict[str, object]:
    tuning = anchor.summaries[POOLED].get("tuning", {})
    best = tuning.get("best_params", {}) if isinstance(tuning, dict) else {}
    return {**params, **best}
