"""Scorecards evaluated beside the model on the out-of-time test window.

Every configured scorecard (the ``scorecard`` setting, else the built-in default) scores each
test row with the card of the row's profile. Ranking metrics (``auc``, ``pr_auc``,
``lift_top10``, ``recall_top10``) read the score itself, ascending = riskiest (risk
``100 - score``), so a scorecard that ranks backwards shows an AUC below 0.5. The probability
metrics (``brier``, ``log_loss``, ``ece``) read a churn probability mapped from the score by
Platt scaling fitted on the calibration window, as the rules baseline is. Rows whose profile no
card serves are left out of that scorecard's metrics (``snapshots`` says how many remain), and
``comparison`` sets the model against the scorecard on exactly those rows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from vitals.config.scorecards import ScorecardError, ScorecardSet, configured_scorecards
from vitals.models.calibration import Calibrator
from vitals.models.scorecard import Scorecards
from vitals.training.data import PROFILE, labels
from vitals.training.errors import TrainingError
from vitals.training.metrics import classification_metrics, top_share
from vitals.training.splits import TimeSplit


def training_scorecards(
    scorecard: str | None,
    features: Collection[str],
    dropped: Mapping[str, str],
    categorical: Collection[str],
    profiles: Collection[str],
) -> list[ScorecardSet]:
    """The scorecards a training run evaluates: the configured file, else the built-in default.

    A scorecard is scored on what the model will read when it scores (its features, without
    those training dropped), so that it scores the same in training and after: the built-in
    default leaves out measures of dropped features, a file naming one is refused.

    Args:
        scorecard: the ``scorecard`` setting (a file), or ``None``.
        features: the snapshots' feature names.
        dropped: those training does not use, with why (``empty``, ``constant``, ``sparse``).
        categorical: those that are categorical.
        profiles: the health profiles of the run.

    Raises:
        TrainingError: a bad scorecard file (the message names file, line and measure), or one
            with a measure of a dropped feature (naming the file, card and measure).
    """
    used = [name for name in features if name not in dropped]
    try:
        loaded = configured_scorecards(
            scorecard,
            features=features if scorecard is not None else used,
            categorical=categorical,
            profiles=profiles,
        )
        for card in loaded.cards.values():
            for measure in card.measures:
                if (why := dropped.get(measure.feature)) is not None:
                    raise ScorecardError(
                        f"feature {measure.feature!r} is {why} in the training window, so the "
                        "model does not read it and scoring could not compute this measure: "
                        "remove the measure, or train on data where the feature varies",
                        file=scorecard,
                        card=card.profile,
                        measure=measure.name,
                    )
    except ScorecardError as error:
        raise TrainingError(str(error)) from None
    return [loaded]


def scorecard_scores(definition: ScorecardSet, frame: pd.DataFrame) -> np.ndarray:
    """The scorecard score (0-100, ``NaN`` without a card) of rows that carry a profile column."""
    cards = Scorecards(definition)
    return cards.score(frame, frame[PROFILE].to_numpy(), explain=False)[
        "scorecard_score"
    ].to_numpy()


def ranking_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """AUC of a 0-100 health score as a churn ranking (low score = risky); ``None`` if undefined."""
    if not 0 < int(np.sum(y)) < len(y):
        return None
    return float(roc_auc_score(y, 100.0 - score))


def evaluate_scorecard(
    split: TimeSplit,
    definition: ScorecardSet,
    model_probability: np.ndarray,
    profile_names: Sequence[str],
) -> dict[str, object]:
    """One scorecard's test-window metrics, overall and per profile, and the model beside it.

    Args:
        split: the time split (calibration rows fit the Platt map, test rows are scored).
        definition: the scorecard.
        model_probability: the model's churn probability per test row.
        profile_names: profiles to report, in routing order.

    Returns:
        The report entry (schema in :mod:`vitals.training.evaluate`).
    """
    cal_score = scorecard_scores(definition, split.calibration)
    test_score = scorecard_scores(definition, split.test)
    cal_known, known = ~np.isnan(cal_score), ~np.isnan(test_score)
    y_cal, y = labels(split.calibration)[cal_known], labels(split.test)[known]
    entry: dict[str, object] = {
        "source": definition.source,
        "cards": {
            card.profile: {
                "measures": [m.name for m in card.measures],
                "total_weight": card.total_weight,
            }
            for card in definition.cards.values()
        },
        "dropped_measures": list(definition.dropped),
    }
    if not known.any() or not 0 < int(y_cal.sum()) < len(y_cal):
        return {**entry, "overall": None, "profiles": {}, "calibration": None, "comparison": None}
    platt = Calibrator("sigmoid").fit(100.0 - cal_score[cal_known], y_cal)
    score = test_score[known]
    probability = platt.transform(100.0 - score)
    profiles = split.test[PROFILE].to_numpy()[known]
    model = np.asarray(model_probability)[known]
    per_profile = {
        name: _metrics(y[profiles == name], score[profiles == name], probability[profiles == name])
        for name in profile_names
        if (profiles == name).any()
    }
    overall = _metrics(y, score, probability)
    ours = classification_metrics(y, model)
    auc_delta = (
        None if ours["auc"] is None or overall["auc"] is None else ours["auc"] - overall["auc"]
    )
    brier_delta = float(ours["brier"]) - float(overall["brier"])  # type: ignore[arg-type]
    return {
        **entry,
        "overall": overall,
        "profiles": per_profile,
        "calibration": {
            "method": "sigmoid",
            "rows": len(y_cal),
            "churners": int(y_cal.sum()),
            "slope": float(platt.a_),
        },
        "comparison": {
            "snapshots": len(y),
            "auc_delta": auc_delta,
            "brier_delta": brier_delta,
            "better_auc": auc_delta is not None and auc_delta > 0,
            "better_brier": brier_delta < 0,
        },
    }


def scorecard_section(
    split: TimeSplit,
    definitions: Sequence[ScorecardSet],
    model_probability: np.ndarray,
    profile_names: Sequence[str],
) -> dict[str, object]:
    """The report's ``scorecards`` key: :func:`evaluate_scorecard` per scorecard, by name."""
    section: dict[str, object] = {}
    for definition in definitions:
        name, n = definition.name, 2
        while name in section:  # two files of one name stay apart
            name, n = f"{definition.name}-{n}", n + 1
        section[name] = evaluate_scorecard(split, definition, model_probability, profile_names)
    return section


def _metrics(y: np.ndarray, score: np.ndarray, probability: np.ndarray) -> dict[str, object]:
    """Every metric of :mod:`vitals.training.metrics`; ranking ones from the score itself."""
    values = classification_metrics(y, probability)
    both = 0 < int(y.sum()) < len(y)
    risk = 100.0 - score
    lift, recall = top_share(y, risk)
    values["auc"] = float(roc_auc_score(y, risk)) if both else None
    values["pr_auc"] = float(average_precision_score(y, risk)) if both else None
    values["lift_top10"] = None if math.isnan(lift) else lift
    values["recall_top10"] = None if math.isnan(recall) else recall
    return values
