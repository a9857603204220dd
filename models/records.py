"""Accounts as plain dicts (an API request, a stored feature vector): checks and rows to score.

A record maps ``segment``, ``tenure_days`` and every model feature to a number, a string or
``None`` (JSON's types); other keys are ignored. Numeric features may not be strings, categorical
ones must be; ``tenure_days`` may not be ``None`` when routing reads it. No pandas on this path:
a one-account request costs a small fraction of building a one-row DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

import numpy as np

from vitals.models.core import Rows
from vitals.models.frames import SEGMENT, TENURE_DAYS, FeatureLayout
from vitals.models.profiles import ProfileRouter


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be scored: the field and what is wrong with it."""

    field: str
    kind: Literal["missing", "float_type", "string_type"]
    message: str


@dataclass(frozen=True)
class RecordScore:
    """One account's score and top reasons, from :meth:`HealthModel.explain_records`.

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


class RecordReader:
    """Checks records against a model's features and turns them into :class:`Rows`.

    Args:
        layout: the model's features.
        router: the model's profile router.
    """

    def __init__(self, layout: FeatureLayout, router: ProfileRouter) -> None:
        self.layout = layout
        self.router = router
        names = layout.names
        self._numeric_at = [j for j, n in enumerate(names) if n not in layout.categorical]
        self._numeric_values = itemgetter(*(names[j] for j in self._numeric_at))
        self._required = dict.fromkeys([SEGMENT, TENURE_DAYS, *names])
        self._strings = [SEGMENT, *layout.categorical]
        self._numbers = {n for n in self._required if n not in self._strings}

    @property
    def required(self) -> list[str]:
        """Every key a record must have (values may be ``None`` unless routing needs them)."""
        return list(self._required)

    def problems(self, record: Mapping[str, Any]) -> list[Problem]:
        """What stops ``record`` from being scored (empty when it can be)."""
        found: list[Problem] = []
        missing = self._required.keys() - record.keys()
        if missing:
            found += [Problem(n, "missing", "Field required by the model") for n in self._required
                      if n in missing]  # fmt: skip
        for name in self._strings:
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                found.append(Problem(name, "string_type", "Input should be a string or null"))
        texts = {k for k, v in record.items() if isinstance(v, str)} & self._numbers
        found += [Problem(n, "float_type", "Input should be a number or null") for n in
                  self._required if n in texts]  # fmt: skip
        if self.router.needs_tenure and TENURE_DAYS not in missing and record[TENURE_DAYS] is None:
            found.append(
                Problem(TENURE_DAYS, "float_type", "Input should be a number: routing needs it")
            )
        return found

    def rows(self, records: Sequence[Mapping[str, Any]], ids: Sequence[str]) -> Rows:
        """Rows of records that passed :meth:`problems`, routed to their profiles.

        Args:
            records: one dict per account.
            ids: the accounts' ids, in the same order.
        """
        n, p = len(records), len(self.layout.names)
        # numpy turns None into NaN; categorical columns stay NaN until encoded per profile
        numeric = np.array([self._numeric_values(r) for r in records], dtype=np.float64)
        numeric = numeric.reshape(n, len(self._numeric_at))  # one feature gives scalars
        if len(self._numeric_at) == p:
            X = numeric
        else:
            X = np.full((n, p), np.nan)
            X[:, self._numeric_at] = numeric
        raw = {c: np.array([r[c] for r in records], dtype=object) for c in self.layout.categorical}
        segment = np.array([r[SEGMENT] for r in records], dtype=object)
        tenure = np.array([r[TENURE_DAYS] for r in records], dtype=np.float64)

        def previous(column: str, at: np.ndarray) -> np.ndarray:
            return np.array([records[i].get(column) for i in at.tolist()], dtype=object)

        profiles = self.router.route(segment, tenure)
        return Rows(np.array(ids, dtype=object), profiles, X, raw, previous)
