"""Rule scorecards scored beside the model: a 0-100 score per account, and its points.

A card (:class:`~vitals.config.scorecards.Scorecard`, read from a scorecard file by
:mod:`vitals.config.scorecards`) belongs to a health profile, or is the ``default`` card of every
profile without its own. Each measure turns one feature into points:

* ``linear = {from = x0, to = x1}``: ``100 * (x - x0) / (x1 - x0)``, clipped to 0-100 (``x0`` gives
  0 points, ``x1`` gives 100; ``x0 > x1`` when less is healthier);
* ``ranges``: the points of the range ``[from, to)`` holding the value;
* a missing value, or one in no range, gets the measure's ``missing`` points (default 50).

The score is ``sum(weight * points) / sum(weights)``: 0-100, higher is healthier, like the model's
health score, and banded with the same thresholds (the profile's ``good`` / ``poor``). Its
explanation is its own arithmetic: per measure the value, the points, the weight and the
contribution ``weight * points / sum(weights)``; the contributions add up to the score.

Serving code scores a frame with the configured cards::

    cards = Scorecards.for_model(model, settings.scorecard)
    scored = model.predict(frame)
    table = cards.score(frame, scored["profile"], bands=model_bands(model))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from vitals.config.scorecards import Measure, Scorecard, ScorecardSet, configured_scorecards
from vitals.models.scoring import Bands, assign_bands

CARD = "scorecard_card"
SCORE = "scorecard_score"
BAND = "scorecard_band"
POINTS = "scorecard_points"


def measure_points(measure: Measure, values: ArrayLike) -> np.ndarray:
    """Points (0-100) of one measure for each value (``NaN`` = missing).

    Args:
        measure: the measure (linear or ranges).
        values: the feature's values.

    Returns:
        A float array of points, one per value.
    """
    x = np.asarray(values, dtype=np.float64)
    points = np.full(x.shape, measure.missing, dtype=np.float64)
    if measure.linear is not None:
        start, end = measure.linear.start, measure.linear.end
        with np.errstate(invalid="ignore"):
            scaled = np.clip(100.0 * (x - start) / (end - start), 0.0, 100.0)
        return np.where(np.isnan(x), measure.missing, scaled)
    for r in measure.ranges:
        lo = -math.inf if r.lo is None else r.lo
        hi = math.inf if r.hi is None else r.hi
        with np.errstate(invalid="ignore"):
            points[(x >= lo) & (x < hi)] = r.points
    return points


def card_points(card: Scorecard, frame: pd.DataFrame) -> np.ndarray:
    """Points of every measure of a card for every row: shape ``(rows, measures)``.

    Raises:
        ValueError: the frame lacks a measure's feature.
    """
    columns = [measure_points(m, _values(frame, m.feature)) for m in card.measures]
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def card_score(card: Scorecard, points: np.ndarray) -> np.ndarray:
    """The card's score per row from its points matrix: ``points @ weights / sum(weights)``.

    Summed measure by measure, so that a row's score does not depend on how many rows are scored
    with it (a matrix product may add in another order for another number of rows).
    """
    weights = np.array([m.weight for m in card.measures], dtype=np.float64)
    total = np.zeros(points.shape[0])
    for column, weight in enumerate(weights):
        total += points[:, column] * weight
    return np.clip(total / weights.sum(), 0.0, 100.0)  # rounding may pass 100 by a hair


def model_bands(model: Any) -> dict[str, Bands]:
    """The band thresholds of a fitted HealthModel, by profile (what scorecards band with)."""
    return {name: fitted.bands for name, fitted in model.profiles_.items()}


class Scorecards:
    """Every card of a scorecard file, scored per row with the card of the row's profile.

    Args:
        definition: the cards (checked again here; read them with
            :func:`vitals.config.scorecards.load_scorecards`).

    Raises:
        ScorecardError: a card or measure that cannot be scored.
    """

    def __init__(self, definition: ScorecardSet) -> None:
        self.definition = definition.validate()

    @classmethod
    def for_model(cls, model: Any, scorecard: str | Path | None = None) -> Scorecards:
        """The configured scorecard, checked against what a fitted HealthModel reads.

        Args:
            model: the fitted HealthModel (its features and profiles).
            scorecard: the scorecard file (``settings.scorecard``); ``None``: the built-in
                default, less the measures whose feature the model does not read.

        Raises:
            ScorecardError: naming the file, line and measure of a bad scorecard.
        """
        categorical = [n for n, s in model.catalog_.items() if s.kind == "categorical"]
        return cls(
            configured_scorecards(
                None if scorecard is None else str(scorecard),
                features=model.feature_names_,
                categorical=categorical,
                profiles=list(model.profiles_),
            )
        )

    @property
    def name(self) -> str:
        """The scorecard's name (from its file)."""
        return self.definition.name

    def cards_of(self, profiles: ArrayLike) -> np.ndarray:
        """The card that scores each row (its profile's, else ``default``, else ``None``; a row
        without a profile gets the ``default`` card)."""
        names = _profiles(profiles)
        lookup = {}
        for profile in set(names.tolist()):
            card = self.definition.card_for("" if profile is None else profile)
            lookup[profile] = None if card is None else card.profile
        return np.array([lookup[p] for p in names], dtype=object)

    def score(
        self,
        frame: pd.DataFrame,
        profiles: pd.Series | ArrayLike,
        bands: Mapping[str, Bands] | None = None,
        *,
        explain: bool = True,
    ) -> pd.DataFrame:
        """The scorecard score of every row, with its band and its points per measure.

        Args:
            frame: feature rows (every measured feature a column; missing values allowed).
            profiles: the health profile of each row (as the model routes it), aligned with
                ``frame``.
            bands: band thresholds by profile (see :func:`model_bands`); without them no band.
            explain: add the points per measure (a list per row); off for evaluation speed.

        Returns:
            Indexed like ``frame``: ``scorecard_card`` (the card used, ``None`` when no card
            serves the profile), ``scorecard_score`` (0-100, ``NaN`` without a card),
            ``scorecard_band`` (with ``bands``: good / average / poor by the row's profile's
            thresholds, ``None`` without a score or thresholds) and ``scorecard_points`` (with
            ``explain``: a JSON-able list per row of ``{measure, feature, value, points, weight,
            contribution}``, value ``None`` when missing; ``None`` without a card).

        Raises:
            ValueError: ``profiles`` of another length, or a measured feature not in ``frame``.
        """
        names = _profiles(profiles)
        if len(names) != len(frame):
            raise ValueError(f"{len(names)} profiles for {len(frame)} rows")
        cards = self.cards_of(names)
        score = np.full(len(frame), np.nan)
        points: list[Any] = [None] * len(frame)
        for key, card in self.definition.cards.items():
            rows = np.flatnonzero(cards == key)
            if not rows.size:
                continue
            part = frame.iloc[rows]
            matrix = card_points(card, part)
            score[rows] = card_score(card, matrix)
            if explain:
                for i, listed in zip(rows, _explained(card, part, matrix), strict=True):
                    points[i] = listed
        table = pd.DataFrame(
            {CARD: pd.Series(cards, index=frame.index, dtype=object), SCORE: score},
            index=frame.index,
        )
        if bands is not None:
            table[BAND] = pd.Series(_bands(score, names, bands), index=frame.index, dtype=object)
        if explain:
            table[POINTS] = pd.Series(points, index=frame.index, dtype=object)
        return table


def _profiles(profiles: pd.Series | ArrayLike) -> np.ndarray:
    """Profile names as an object array, ``None`` where missing (None, NaN, NA)."""
    names = np.asarray(profiles, dtype=object).ravel()
    return np.array([None if pd.isna(p) else str(p) for p in names], dtype=object)


def _values(frame: pd.DataFrame, feature: str) -> np.ndarray:
    if feature not in frame.columns:
        raise ValueError(f"the rows lack the feature {feature!r} that a scorecard measure reads")
    return pd.to_numeric(frame[feature], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _explained(
    card: Scorecard, frame: pd.DataFrame, matrix: np.ndarray
) -> list[list[dict[str, object]]]:
    total = card.total_weight
    values = np.column_stack([_values(frame, m.feature) for m in card.measures])
    out = []
    for row_values, row_points in zip(values, matrix, strict=True):
        out.append(
            [
                {
                    "measure": m.name,
                    "feature": m.feature,
                    "value": None if math.isnan(v) else float(v),
                    "points": float(p),
                    "weight": m.weight,
                    "contribution": float(m.weight * p / total),
                }
                for m, v, p in zip(card.measures, row_values, row_points, strict=True)
            ]
        )
    return out


def _bands(score: np.ndarray, profiles: np.ndarray, bands: Mapping[str, Bands]) -> np.ndarray:
    out = np.full(len(score), None, dtype=object)
    for profile in set(profiles.tolist()):
        thresholds = bands.get(profile) if profile is not None else None
        rows = (profiles == profile) & ~np.isnan(score)
        if thresholds is not None and rows.any():
            out[rows] = assign_bands(score[rows], thresholds)
    return out
