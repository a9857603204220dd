"""``vitals scorecard suggest``: weights for a scorecard's measures, learnt on the training window.

Method. A card's score is ``sum(w_j * points_j) / sum(w)``, so its risk ``100 - score`` is
proportional to ``sum(w_j * (100 - points_j))``: a weighted sum of each measure's shortfall.
Per card, on the training-window rows that card scores, a logistic regression of the churn label
on the shortfalls ``(100 - points_j) / 100`` is fitted with every coefficient held non-negative
(L-BFGS-B with bounds; a free intercept and a tiny ridge for stability): a measure may only count
the way its points say, never backwards. The coefficients, rescaled so that they sum to the card's
original total weight and rounded, are the suggested weights; a measure whose weight comes out
as zero adds nothing and is left out of a written file. Maximum likelihood is not the AUC, so
the suggestion is kept only when its training-window AUC is at least the original weights'
(otherwise, or with fewer than ``min_churners`` churners, the card keeps its weights and says
why). The test window is not used to choose anything; its AUC with both sets of weights is
reported so that the change can be judged out of time.

The split is training's own (:func:`vitals.training.splits.split_by_time` with the settings'
windows), so the training, calibration and test windows are those of ``vitals train``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from vitals.config.scorecards import ScorecardSet
from vitals.config.settings import Settings
from vitals.models.profiles import ProfileRouter
from vitals.models.scorecard import Scorecards, card_points
from vitals.training.assemble import profile_rules
from vitals.training.data import PROFILE, labels
from vitals.training.scorecard_eval import ranking_auc, scorecard_scores, training_scorecards
from vitals.training.selection import training_features
from vitals.training.splits import TimeSplit, training_split
from vitals.training.train import training_snapshots

_RIDGE = 1e-4


@dataclass(frozen=True)
class CardSuggestion:
    """Old and suggested weights of one card.

    Attributes:
        card: the card (profile name or ``default``).
        measures: ``(measure, feature, weight, suggested weight)`` per measure.
        rows: training rows the card scores.
        churners: churners among them.
        note: why the original weights were kept (``None`` when the suggestion stands).
    """

    card: str
    measures: list[tuple[str, str, float, float]]
    rows: int
    churners: int
    note: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A suggested scorecard and how it compares with the original.

    Attributes:
        original: the scorecard as given.
        suggested: the same cards with suggested weights.
        cards: per card, the weights and the facts behind them.
        auc: ``{"train": (original, suggested), "test": (original, suggested)}``.
        split: the time split the weights were fitted and tested on.
    """

    original: ScorecardSet
    suggested: ScorecardSet
    cards: list[CardSuggestion]
    auc: dict[str, tuple[float | None, float | None]]
    split: TimeSplit


def fit_weights(points: np.ndarray, y: np.ndarray, total: float) -> np.ndarray:
    """Non-negative logistic weights of a card's measures (method in the module docstring).

    Args:
        points: the card's points, shape ``(rows, measures)``, 0-100.
        y: the rows' 0/1 churn labels.
        total: what the weights sum to (the card's original total weight).

    Returns:
        One weight per measure, non-negative, summing to ``total`` (all zero if no measure
        raises the churn likelihood).
    """
    shortfall = (100.0 - points) / 100.0
    t = np.asarray(y, dtype=np.float64)
    rate = float(np.clip(t.mean(), 1e-6, 1 - 1e-6))
    sign = 2.0 * t - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = theta[0] + shortfall @ theta[1:]
        value = np.mean(np.log1p(np.exp(-np.abs(sign * margin))) + np.maximum(-sign * margin, 0))
        residual = (expit(margin) - t) / len(t)
        grad = np.concatenate([[residual.sum()], shortfall.T @ residual + _RIDGE * theta[1:]])
        return float(value + 0.5 * _RIDGE * theta[1:] @ theta[1:]), grad

    start = np.concatenate([[math.log(rate / (1 - rate))], np.full(points.shape[1], 0.1)])
    bounds = [(None, None)] + [(0.0, None)] * points.shape[1]
    fitted = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    coefficients = np.maximum(fitted.x[1:], 0.0)
    if coefficients.sum() <= 0:
        return np.zeros(points.shape[1])
    return total * coefficients / coefficients.sum()


def suggest_weights(
    split: TimeSplit, definition: ScorecardSet, *, min_churners: int = 10
) -> Suggestion:
    """Suggest every card's weights from the training window and score both on the test window.

    Args:
        split: the time split (rows carry a ``profile`` column).
        definition: the scorecard whose weights are tuned (ranges and linear scales stay).
        min_churners: fewest training churners a card needs for a suggestion.

    Returns:
        The :class:`Suggestion`.
    """
    cards = Scorecards(definition)
    train, y_train = split.train, labels(split.train)
    owner = cards.cards_of(train[PROFILE].to_numpy())
    found: list[CardSuggestion] = []
    new: dict[str, dict[str, float]] = {}
    for key, card in definition.cards.items():
        rows = owner == key
        y = y_train[rows]
        old = np.array([m.weight for m in card.measures])
        note = None
        if int(y.sum()) < min_churners or int(y.sum()) == len(y):
            note = f"{int(y.sum())} training churners (needs {min_churners}): weights kept"
            weights = old
        else:
            points = card_points(card, train[rows])
            weights = _rounded(fit_weights(points, y, card.total_weight), card.total_weight)
            if not (weights > 0).any():
                note, weights = "no measure foretells churn on the training window: kept", old
            else:
                before = ranking_auc(y, _score(points, old))
                after = ranking_auc(y, _score(points, weights))
                if before is not None and (after is None or after < before):
                    note, weights = "no better on the training window: weights kept", old
        measures = [
            (m.name, m.feature, m.weight, float(w))
            for m, w in zip(card.measures, weights, strict=True)
        ]
        found.append(CardSuggestion(key, measures, int(rows.sum()), int(y.sum()), note))
        new[key] = {m.name: float(w) for m, w in zip(card.measures, weights, strict=True)}
    suggested = definition.with_weights(new)
    auc = {
        window: (_auc(definition, frame), _auc(suggested, frame))
        for window, frame in (("train", split.train), ("test", split.test))
    }
    return Suggestion(definition, suggested, found, auc, split)


def suggest_for_data(
    data_dir: str | Path | None,
    features: str | Path | None,
    scorecard: str | Path | None,
    settings: Settings,
) -> Suggestion:
    """What ``vitals scorecard suggest`` does: snapshots, training's split, the suggestion.

    Args:
        data_dir: the data directory to build snapshots from.
        features: a snapshot file (read when it exists, else built from ``data_dir``).
        scorecard: the scorecard file (default: the ``scorecard`` setting, else the built-in).
        settings: windows, profiles, horizon and snapshot step.

    Raises:
        TrainingError: bad data or a bad scorecard file (the message names file, line, measure).
    """
    snapshots, history_start, _ = training_snapshots(
        data_dir, features, settings.horizon_days, settings
    )
    categorical = [s.name for s in snapshots.catalog if s.kind == "categorical"]
    names = ProfileRouter(profile_rules(settings.profiles), settings.default_profile).profile_names
    path = settings.scorecard if scorecard is None else str(scorecard)
    split = training_split(snapshots, settings, history_start)
    _, dropped = training_features(split.train, snapshots, settings.training.min_sentiment_share)
    [definition] = training_scorecards(path, snapshots.feature_names, dropped, categorical, names)
    return suggest_weights(split, definition)


def _score(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return points @ weights / weights.sum()


def _auc(definition: ScorecardSet, frame: pd.DataFrame) -> float | None:
    score = scorecard_scores(definition, frame)
    known = ~np.isnan(score)
    return ranking_auc(labels(frame)[known], score[known]) if known.any() else None


def _rounded(weights: np.ndarray, total: float) -> np.ndarray:
    """Weights rounded to about three significant digits of the total."""
    digits = max(0, 3 - math.ceil(math.log10(total))) if total > 0 else 3
    return np.round(weights, digits)
