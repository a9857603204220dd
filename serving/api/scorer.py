"""Scoring feature dicts without pandas: the per-request path of ``POST /v1/predict``.

:meth:`HealthModel.explain` works on DataFrames, which costs about 2 ms per call on one row; an
API request for one account must cost a small fraction of that. This module computes the same
result from plain dicts with the model's own pieces: routing (``router_``), each profile's booster,
calibrator and bands (``profiles_``), and the functions :mod:`models.reasons` and
:mod:`models.explain` use to turn contributions into health points and sentences.

Margins and contributions come from the model's own TreeSHAP (:meth:`models.treeshap.TreeShap.
explain`, one pass over the trees, without the GIL), so a request gets the batch's exact numbers.
Probabilities, scores and bands are computed exactly as :meth:`HealthModel.predict` does.
``tests/api/test_scorer.py`` checks all of it against the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from models.explain import top_k_indices
from models.frames import SEGMENT, TENURE_DAYS
from models.health_model import HealthModel
from models.reasons import reason_sentence, split_score_change
from models.scoring import assign_bands, health_score


@dataclass(frozen=True)
class Problem:
    """Why a feature dict cannot be scored: the field and what is wrong with it."""

    field: str
    kind: str  # missing | float_type | string_type
    message: str


@dataclass(frozen=True)
class Scored:
    """One account's score and reasons.

    Attributes:
        profile: health profile the account was routed to.
        churn_probability: calibrated probability of churning within the horizon.
        health_score: 0-100.
        band: good, average or poor.
        baseline_score: the profile's score at the booster's base value (reasons sum to
            ``health_score - baseline_score`` over all features).
        reasons: the top reasons, largest first, as dicts with ``rank, feature, label, value,
            previous_value, direction, health_points, log_odds, sentence``.
    """

    profile: str
    churn_probability: float
    health_score: float
    band: str
    baseline_score: float
    reasons: list[dict[str, Any]]


class OnlineScorer:
    """Scores feature dicts with a fitted :class:`HealthModel` (see the module docstring).

    Args:
        model: the fitted model.
    """

    def __init__(self, model: HealthModel) -> None:
        self.model = model
        self.names: list[str] = list(model.feature_names_)
        self.specs = [model.catalog_[n] for n in self.names]
        self.categorical = [j for j, s in enumerate(self.specs) if s.kind == "categorical"]
        self._numeric_at = [j for j in range(len(self.names)) if j not in self.categorical]
        self._numeric_values = itemgetter(*(self.names[j] for j in self._numeric_at))
        self._needs_tenure = model.router_.needs_tenure
        self._required = dict.fromkeys([SEGMENT, TENURE_DAYS, *self.names])
        self._strings = [SEGMENT, *(self.names[j] for j in self.categorical)]
        self._numbers = {n for n in self._required if n not in self._strings}
        # compile (or load from numba's cache) the one-row kernel now rather than in a request
        for profile in model.profiles_.values():
            profile.shap.explain(np.full((1, profile.shap.n_features), np.nan))

    @property
    def required(self) -> list[str]:
        """Every key a feature dict must have (values may be null unless routing needs them)."""
        return list(self._required)

    def problems(self, features: Mapping[str, Any]) -> list[Problem]:
        """What stops ``features`` from being scored (empty when it can be).

        Values are numbers, strings or ``None`` (the request schema guarantees it; stored vectors
        are JSON): numeric features may not be strings, categorical ones must be.
        """
        found: list[Problem] = []
        missing = self._required.keys() - features.keys()
        if missing:
            found += [Problem(n, "missing", "Field required by the model") for n in self._required
                      if n in missing]  # fmt: skip
        for name in self._strings:
            value = features.get(name)
            if value is not None and not isinstance(value, str):
                found.append(Problem(name, "string_type", "Input should be a string or null"))
        texts = {k for k, v in features.items() if isinstance(v, str)} & self._numbers
        found += [Problem(n, "float_type", "Input should be a number or null") for n in
                  self._required if n in texts]  # fmt: skip
        if self._needs_tenure and TENURE_DAYS not in missing and features[TENURE_DAYS] is None:
            found.append(
                Problem(TENURE_DAYS, "float_type", "Input should be a number: routing needs it")
            )
        return found

    def score(self, rows: Sequence[Mapping[str, Any]], top_k: int) -> list[Scored]:
        """Score and explain feature dicts that passed :meth:`problems`.

        Args:
            rows: one dict per account.
            top_k: reasons per account (0 for none).

        Returns:
            One :class:`Scored` per row, in order.
        """
        n, p = len(rows), len(self.names)
        if n == 0:
            return []
        # numpy turns None into NaN; categorical columns are filled per profile below
        X = np.array([self._numeric_values(r) for r in rows], dtype=np.float64)
        X = X.reshape(n, len(self._numeric_at))  # one numeric feature gives scalars, not tuples
        if self.categorical:
            full = np.full((n, p), np.nan)
            full[:, self._numeric_at] = X
            X = full
        raw = {j: [r[self.names[j]] for r in rows] for j in self.categorical}
        segment = np.array([r[SEGMENT] for r in rows], dtype=object)
        tenure = np.array([r[TENURE_DAYS] for r in rows], dtype=np.float64)
        profiles = self.model.router_.route(segment, tenure)
        phi = np.empty((n, p + 1))
        margin = np.empty(n)
        probability = np.empty(n)
        band = np.empty(n, dtype=object)
        base_score = np.empty(n)
        slope = np.empty(n)
        for name, at in _groups(profiles):
            profile = self.model.profiles_[name]
            matrix = X[at]
            for j in self.categorical:
                codes = profile.codes[self.names[j]]
                matrix[:, j] = [codes.get(raw[j][i], math.nan) for i in at]
            margin[at], phi[at] = profile.shap.explain(matrix)
            probability[at] = profile.piece.calibrator.transform(margin[at])
            band[at] = assign_bands(health_score(probability[at]), profile.bands)
            base_score[at] = profile.score(phi[at, -1])
            slope[at] = profile.slope(phi[at, -1])
        score = health_score(probability)
        reasons = self._reasons(rows, X, raw, phi, score - base_score, slope, top_k)
        return [
            Scored(
                str(profiles[i]),
                float(probability[i]),
                float(score[i]),
                str(band[i]),
                float(base_score[i]),
                reasons[i],
            )
            for i in range(n)
        ]

    def _reasons(
        self,
        rows: Sequence[Mapping[str, Any]],
        X: np.ndarray,
        raw: dict[int, list[Any]],
        phi: np.ndarray,
        change: np.ndarray,
        slope: np.ndarray,
        top_k: int,
    ) -> list[list[dict[str, Any]]]:
        if top_k < 1:
            return [[] for _ in rows]
        points = split_score_change(phi[:, :-1], change, slope)
        top = top_k_indices(points, top_k)
        out: list[list[dict[str, Any]]] = []
        for i, row in enumerate(rows):
            items: list[dict[str, Any]] = []
            for rank, j in enumerate(top[i].tolist(), start=1):
                pts = float(points[i, j])
                if pts == 0.0:
                    continue
                spec = self.specs[j]
                value = raw[j][i] if j in raw else float(X[i, j])
                previous = row.get(spec.previous) if spec.previous else None
                items.append(
                    {
                        "rank": rank,
                        "feature": spec.name,
                        "label": spec.label,
                        "value": _json_value(value),
                        "previous_value": _json_value(previous),
                        "direction": "raises" if pts > 0 else "lowers",
                        "health_points": pts,
                        "log_odds": float(phi[i, j]),
                        "sentence": reason_sentence(spec, value, previous, pts),
                    }
                )
            out.append(items)
        return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _groups(profiles: np.ndarray) -> list[tuple[str, np.ndarray]]:
    if (profiles == profiles[0]).all():
        return [(str(profiles[0]), np.arange(len(profiles)))]
    names, inverse = np.unique(profiles.astype(str), return_inverse=True)
    return [(str(n), np.flatnonzero(inverse == i)) for i, n in enumerate(names)]
