"""Accounts as plain dicts (an API request, a stored feature vector): checks and rows to score.

A record maps ``segment``, ``tenure_days`` and every model feature to a number, a string or
``None`` (JSON's types). Numeric features may not be strings, categorical ones must be;
``tenure_days`` may not be ``None`` when routing reads it. Other keys are ignored, unless the
check is *strict* (what a client sends): then a key the model does not read is refused (the
snapshot's id columns ``account_id``, ``as_of`` and ``parent_id`` aside), and so is a number
that cannot be: not finite, a negative ``tenure_days``, or below its feature's declared
``minimum`` (0 for counts, durations and their ratios). A stored vector is checked leniently:
it was computed by the pipeline, perhaps for an older model with other features. No pandas on
this path: a one-account request costs a small fraction of building a one-row DataFrame.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal

import numpy as np

from vitals.features.catalog import FeatureSet
from vitals.models.core import Rows
from vitals.models.frames import ACCOUNT_ID, AS_OF, SEGMENT, TENURE_DAYS, FeatureLayout
from vitals.models.profiles import ProfileRouter

#: Keys a strict check accepts without reading them: a snapshot row's id columns.
ID_KEYS = (ACCOUNT_ID, AS_OF, "parent_id")
#: The smallest ``tenure_days`` (days since the account became a customer).
MIN_TENURE_DAYS = 0.0


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be scored: the field and what is wrong with it.

    ``kind`` follows pydantic's error types, so that the API reports these like its own.
    """

    field: str
    kind: Literal[
        "missing",
        "float_type",
        "string_type",
        "finite_number",
        "greater_than_equal",
        "extra_forbidden",
    ]
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
        risk: risk of churning within each horizon in days (``None`` values for a model saved
            before the survival curve).
        renewal_risk: risk of being gone by the next renewal (``None`` without a renewal date).
    """

    profile: str
    churn_probability: float
    health_score: float
    band: str
    baseline_score: float
    reasons: list[dict[str, Any]]
    risk: dict[int, float | None] = field(default_factory=dict)
    renewal_risk: float | None = None


class RecordReader:
    """Checks records against a model's features and turns them into :class:`Rows`.

    Args:
        layout: the model's features.
        router: the model's profile router.
        minimums: the smallest possible value of numeric features that have one (a strict
            check refuses less); ``tenure_days`` is at least 0 in any case.
        span_days: the model's health span (routes each record over it).
    """

    def __init__(
        self,
        layout: FeatureLayout,
        router: ProfileRouter,
        minimums: Mapping[str, float] | None = None,
        span_days: int | None = None,
    ) -> None:
        self.layout = layout
        self.router = router
        self.span_days = span_days
        names = layout.names
        self._numeric_at = [j for j, n in enumerate(names) if n not in layout.categorical]
        self._numeric_values = itemgetter(*(names[j] for j in self._numeric_at))
        self._required = dict.fromkeys([SEGMENT, TENURE_DAYS, *names])
        self._strings = [SEGMENT, *layout.categorical]
        self._numbers = {n for n in self._required if n not in self._strings}
        floors = {TENURE_DAYS: MIN_TENURE_DAYS, **(minimums or {})}
        self._minimums = {n: float(floors[n]) for n in self._required if n in floors}
        self._known = {*self._required, *ID_KEYS}
        # the numeric fields in one array, with their floors (-inf where unbounded)
        self._checked = [n for n in self._required if n in self._numbers]
        self._checked_values = itemgetter(*self._checked)
        self._floors = np.array([self._minimums.get(n, -np.inf) for n in self._checked])

    @classmethod
    def for_feature_set(
        cls, features: FeatureSet, router: ProfileRouter, span_days: int | None = None
    ) -> RecordReader:
        """The reader of a model whose boosters read ``features``, in that order.

        The layout is the model's (its categorical features are the catalog's, which
        :meth:`HealthModel.fit` enforces), and the minimums are the catalog's.
        """
        specs = features.features
        layout = FeatureLayout(
            tuple(s.name for s in specs), tuple(s.name for s in specs if s.kind == "categorical")
        )
        minimums = {s.name: s.minimum for s in specs if s.minimum is not None}
        return cls(layout, router, minimums, span_days)

    @property
    def required(self) -> list[str]:
        """Every key a record must have (values may be ``None`` unless routing needs them)."""
        return list(self._required)

    def problems(self, record: Mapping[str, Any], *, strict: bool = False) -> list[Problem]:
        """What stops ``record`` from being scored (empty when it can be).

        Args:
            record: the account.
            strict: also refuse what a client may not send (see the module): keys the model
                does not read, and numbers that are not finite or below their minimum. For
                features sent in a request; a stored vector is checked without it.
        """
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
        if strict:
            found += self._impossible(record)
            found += [
                Problem(k, "extra_forbidden", "Extra inputs are not permitted: the model does not "
                        "read this feature")
                for k in record.keys() - self._known
            ]  # fmt: skip
        return found

    def _impossible(self, record: Mapping[str, Any]) -> list[Problem]:
        """Numbers a feature cannot take: not finite, or below its minimum.

        All numeric fields are checked at once in one array (a null becomes NaN there, which
        passes); a record with a problem, or with a value that is not a number (the type checks
        report it), is checked field by field to name each field.
        """
        if record.keys() >= self._numbers:
            try:
                x = np.array(self._checked_values(record), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                x = None
            with np.errstate(invalid="ignore"):
                if x is not None and (np.isnan(x) | (np.isfinite(x) & (x >= self._floors))).all():
                    return []
        return self._impossible_one_by_one(record)

    def _impossible_one_by_one(self, record: Mapping[str, Any]) -> list[Problem]:
        found = []
        for name in self._checked:
            value = record.get(name)
            if isinstance(value, bool | str) or not isinstance(value, numbers.Real):
                continue  # null, or not a number: the type checks speak for it
            if not math.isfinite(value):
                found.append(Problem(name, "finite_number", "Input should be a finite number"))
            elif name in self._minimums and value < self._minimums[name]:
                floor = self._minimums[name]
                found.append(
                    Problem(
                        name,
                        "greater_than_equal",
                        f"Input should be greater than or equal to {floor:g}",
                    )
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

        stages = self.router.stages(segment, tenure, self.span_days)
        return Rows(np.array(ids, dtype=object), stages[0][0], X, raw, previous, stages)
