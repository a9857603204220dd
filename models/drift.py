"""Drift math: reference distributions, the population stability index, calibration gaps.

Nothing here reads a store or trains: training captures a :class:`DriftReference` of its
training window (saved in the model's metadata under :data:`REFERENCE_KEY`, plain JSON), and
serving compares the latest scored feature vectors with it.

Bins. A numeric feature gets up to ``bins`` bins cut at the training window's quantiles (ties
merge cut points, so a feature that is mostly 0 has fewer bins): bin *i* holds values in
``(cut[i-1], cut[i]]``, the first everything up to the first cut, the last everything above the
last cut, so any later value falls in some bin. A categorical feature keeps its ``max_levels``
most frequent training levels; any other level, unseen ones included, falls in ``other``. Both
end with a ``missing`` bin.

Population stability index of a feature, with shares ``e`` (training window) and ``a`` (now):
``PSI = sum((a - e) * ln(a / e))``, the symmetrised Kullback-Leibler divergence. Shares below
:data:`PSI_FLOOR` are raised to it, so an empty bin on either side gives a large but finite
value. Rule of thumb: below 0.1 stable, 0.1 to 0.25 moved, above 0.25 shifted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

REFERENCE_KEY = "drift_reference"
REFERENCE_VERSION = 1
PSI_FLOOR = 1e-4
MISSING = "missing"
OTHER = "other"
ECE_BINS = 10

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureReference:
    """One feature's bins and its training-window share of rows in each.

    Attributes:
        name: the feature.
        kind: ``numeric`` or ``categorical``.
        cuts: numeric: the sorted, distinct upper edges of every bin but the last.
        levels: categorical: the kept levels, most frequent first.
        shares: training-window share of rows per bin (see :attr:`labels`), ``missing`` last.
    """

    name: str
    kind: Kind
    cuts: tuple[float, ...]
    levels: tuple[str, ...]
    shares: tuple[float, ...]

    @property
    def labels(self) -> list[str]:
        """A readable name per bin, in the order of :attr:`shares`."""
        if self.kind == "categorical":
            return [*self.levels, OTHER, MISSING]
        if not self.cuts:
            return ["any value", MISSING]
        edges = [f"{c:.6g}" for c in self.cuts]
        inner = [f"({low}, {high}]" for low, high in pairwise(edges)]
        return [f"<= {edges[0]}", *inner, f"> {edges[-1]}", MISSING]

    def counts(self, values: ArrayLike) -> np.ndarray:
        """Rows per bin (same order as :attr:`shares`) of a column of this feature's values."""
        if self.kind == "categorical":
            column = pd.Series(np.asarray(values, dtype=object), dtype=object)
            missing = column.isna().to_numpy()
            codes = pd.Index(self.levels, dtype=object).get_indexer(column[~missing].astype(str))
            bins = np.where(codes < 0, len(self.levels), codes)
            inside = np.bincount(bins, minlength=len(self.levels) + 1)
        else:
            numbers = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
            missing = np.isnan(numbers)
            bins = np.digitize(numbers[~missing], np.asarray(self.cuts, dtype=float), right=True)
            inside = np.bincount(bins, minlength=len(self.cuts) + 1)
        return np.append(inside, missing.sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (read back by :meth:`from_dict`)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "cuts": list(self.cuts),
            "levels": list(self.levels),
            "shares": list(self.shares),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureReference:
        """The reference :meth:`to_dict` wrote."""
        return cls(
            name=str(data["name"]),
            kind=data["kind"],
            cuts=tuple(float(c) for c in data["cuts"]),
            levels=tuple(str(v) for v in data["levels"]),
            shares=tuple(float(s) for s in data["shares"]),
        )


@dataclass(frozen=True)
class DriftReference:
    """The training window's distribution of every feature a model reads.

    Attributes:
        features: one reference per feature.
        rows: training-window rows they were counted on.
    """

    features: tuple[FeatureReference, ...]
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, to keep in a model's metadata under :data:`REFERENCE_KEY`."""
        return {
            "version": REFERENCE_VERSION,
            "rows": self.rows,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        """The reference :meth:`to_dict` wrote.

        Raises:
            ValueError: a reference written by a newer version of Vitals.
        """
        if int(data.get("version", 0)) > REFERENCE_VERSION:
            raise ValueError(
                f"drift reference version {data['version']} is newer than this code reads "
                f"({REFERENCE_VERSION})"
            )
        features = tuple(FeatureReference.from_dict(f) for f in data["features"])
        return cls(features, int(data["rows"]))


@dataclass(frozen=True)
class FeatureShift:
    """How far one feature's latest distribution is from its training-window reference.

    Attributes:
        name: the feature.
        kind: ``numeric`` or ``categorical``.
        psi: population stability index (``nan`` without rows).
        rows: rows compared.
        labels: bin names.
        expected: training-window share per bin.
        actual: latest share per bin.
    """

    name: str
    kind: Kind
    psi: float
    rows: int
    labels: list[str]
    expected: list[float]
    actual: list[float]


@dataclass(frozen=True)
class CalibrationGap:
    """Predicted against observed churn of a group of scored rows whose outcome is known.

    Attributes:
        count: rows.
        predicted: mean predicted churn probability.
        observed: share of rows that churned.
        ece: expected calibration error (see :func:`expected_calibration_error`).
    """

    count: int
    predicted: float
    observed: float
    ece: float

    @property
    def gap(self) -> float:
        """Mean predicted minus observed churn: positive when the model over-predicts."""
        return self.predicted - self.observed


def reference_distribution(
    frame: pd.DataFrame,
    names: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    bins: int = 10,
    max_levels: int = 20,
) -> DriftReference:
    """Bin each feature on the training window and record its share of rows per bin.

    Args:
        frame: training-window rows.
        names: the features (columns of ``frame``).
        categorical: those of them that are categorical.
        bins: most quantile bins of a numeric feature (besides ``missing``).
        max_levels: most levels of a categorical feature kept (besides ``other``, ``missing``).

    Returns:
        The :class:`DriftReference`.

    Raises:
        ValueError: no rows, fewer than 2 bins or no levels, or a feature not in ``frame``.
    """
    if frame.empty:
        raise ValueError("a drift reference needs training rows")
    if bins < 2 or max_levels < 1:
        raise ValueError(f"need bins >= 2 and max_levels >= 1, got {bins} and {max_levels}")
    if absent := [n for n in names if n not in frame.columns]:
        raise ValueError(f"features not in the training rows: {absent}")
    kinds = set(categorical)
    features = []
    for name in names:
        unweighted = _bins(frame[name], name, name in kinds, bins, max_levels)
        counts = unweighted.counts(frame[name].to_numpy())
        shares = tuple(float(s) for s in counts / len(frame))
        features.append(replace(unweighted, shares=shares))
    return DriftReference(tuple(features), len(frame))


def reference_of(metadata: Mapping[str, Any]) -> DriftReference | None:
    """The drift reference kept in a model's metadata (``None`` for models saved before it)."""
    data = metadata.get(REFERENCE_KEY)
    return None if data is None else DriftReference.from_dict(data)


def population_stability_index(
    expected: ArrayLike, actual: ArrayLike, floor: float = PSI_FLOOR
) -> float:
    """PSI between two distributions over the same bins (counts or shares; each is normalised).

    Returns:
        ``sum((a - e) * ln(a / e))`` with shares raised to at least ``floor``; 0 for identical
        distributions, ``nan`` when either side has no rows.

    Raises:
        ValueError: arrays of different lengths, or negative counts.
    """
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError(f"distributions over different bins: {e.shape} and {a.shape}")
    if (e < 0).any() or (a < 0).any():
        raise ValueError("counts and shares cannot be negative")
    if e.sum() <= 0 or a.sum() <= 0:
        return float("nan")
    e = np.maximum(e / e.sum(), floor)
    a = np.maximum(a / a.sum(), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_shifts(
    reference: DriftReference, frame: pd.DataFrame
) -> tuple[list[FeatureShift], list[str]]:
    """Compare the rows of ``frame`` with the reference, feature by feature.

    Args:
        reference: the training window's distributions.
        frame: the latest rows (one column per feature; other columns are ignored).

    Returns:
        The shift of every reference feature ``frame`` has, largest PSI first, and the names of
        the reference features ``frame`` lacks (not compared, rather than counted as missing).
    """
    shifts, absent = [], []
    for feature in reference.features:
        if feature.name not in frame.columns:
            absent.append(feature.name)
            continue
        counts = feature.counts(frame[feature.name].to_numpy())
        rows = int(counts.sum())
        # shares computed as the reference's were: equal counts give bit-equal shares, PSI 0
        actual = counts / rows if rows else np.zeros(len(counts))
        shifts.append(
            FeatureShift(
                feature.name,
                feature.kind,
                population_stability_index(feature.shares, actual),
                rows,
                feature.labels,
                list(feature.shares),
                [float(s) for s in actual],
            )
        )
    shifts.sort(key=lambda s: -s.psi if np.isfinite(s.psi) else np.inf)
    return shifts, absent


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-count bins of the probabilities sorted ascending (stable), as the
    training report computes it: ``sum(bin share * |churn rate - mean probability|)``.

    Raises:
        ValueError: no rows, or ``y`` and ``p`` of different lengths.
    """
    t, q = _outcomes(y, p)
    order = np.argsort(q, kind="stable")
    parts = np.array_split(order, min(bins, len(order)))
    return float(sum(len(i) * abs(t[i].mean() - q[i].mean()) for i in parts) / len(order))


def calibration_gap(y: ArrayLike, p: ArrayLike, bins: int = ECE_BINS) -> CalibrationGap:
    """Mean predicted and observed churn, and the ECE, of rows with known outcomes.

    Args:
        y: 0/1 outcomes.
        p: predicted churn probabilities.
        bins: equal-count bins of the ECE.

    Raises:
        ValueError: no rows, or ``y`` and ``p`` of different lengths.
    """
    t, q = _outcomes(y, p)
    return CalibrationGap(
        len(t), float(q.mean()), float(t.mean()), expected_calibration_error(t, q, bins)
    )


def _bins(
    column: pd.Series, name: str, categorical: bool, bins: int, max_levels: int
) -> FeatureReference:
    """A feature's bins (no shares yet): quantile cuts, or the most frequent levels."""
    if categorical:
        ranked = column.dropna().astype(str).value_counts(sort=False)
        ranked = ranked.sort_index().sort_values(ascending=False, kind="stable")
        return FeatureReference(name, "categorical", (), tuple(ranked.index[:max_levels]), ())
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    cuts: tuple[float, ...] = ()
    if finite.size:
        inner = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        cuts = tuple(float(c) for c in np.unique(inner))
    return FeatureReference(name, "numeric", cuts, (), ())


def _outcomes(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, q = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if t.shape != q.shape or t.ndim != 1:
        raise ValueError(f"outcomes and probabilities differ in shape: {t.shape} and {q.shape}")
    if not len(t):
        raise ValueError("no rows with a known outcome")
    return t, q
