"""Reasons in measures: the features of one measure (catalog ``measure``) add up to one reason.

A CS team reads "Product usage fell" rather than four slices of it (events, logins, active days,
stickiness). A measure's points are the exact sum of its features' health points; its sentence is
built from the feature that moved most, and its breakdown lists the features underneath.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vitals.features.catalog import FeatureSpec
from vitals.models.reasons import PointsUnit, format_points

BREAKDOWN = 5  # features listed under a measure; the rest are summed into one entry
# (feature index, row positions) -> values of that feature at those rows (object array)
ValueGetter = Callable[[int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Measures:
    """The measures of a model's features, in order of first appearance.

    Attributes:
        names: measure names.
        members: feature indices of each measure.
    """

    names: tuple[str, ...]
    members: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, specs: Sequence[FeatureSpec]) -> Measures:
        """Group features by their catalog measure."""
        groups: dict[str, list[int]] = {}
        for j, spec in enumerate(specs):
            groups.setdefault(spec.measure, []).append(j)
        return cls(tuple(groups), tuple(np.asarray(v, dtype=np.int64) for v in groups.values()))

    def totals(self, values: np.ndarray) -> np.ndarray:
        """Per row, the sum of each measure's features: shape (rows, measures).

        Added one feature at a time, so a row's sums do not depend on the other rows: numpy's
        ``sum(axis=1)`` orders the additions differently for one row and for many, which would
        make an account scored alone differ in the last bit from the same account in a batch.
        """
        out = np.zeros((values.shape[0], len(self.names)))
        for m, members in enumerate(self.members):
            for j in members:
                out[:, m] += values[:, j]
        return out

    def leads(self, points: np.ndarray, rows: np.ndarray, measures: np.ndarray) -> np.ndarray:
        """For each (row, measure) pair, the feature of the measure with the largest |points|."""
        lead = np.empty(len(rows), dtype=np.int64)
        for m in np.unique(measures):
            at = measures == m
            members = self.members[m]
            lead[at] = members[np.argmax(np.abs(points[np.ix_(rows[at], members)]), axis=1)]
        return lead


def readable(value: Any) -> Any:
    """A value rounded for reading (``0.19000000000000003`` -> ``0.19``); text stays as it is,
    and a missing or non-finite number becomes ``None``."""
    if value is None or isinstance(value, str):
        return value
    x = float(value)
    if not math.isfinite(x):
        return None
    return round(x, 2) if abs(x) >= 1 else float(f"{x:.3g}")


def exact(value: Any) -> Any:
    """A value as JSON can hold it: numbers as floats, non-finite and missing as ``None``."""
    if value is None or isinstance(value, str):
        return value
    x = float(value)
    return x if math.isfinite(x) else None


def fetch(value_at: ValueGetter, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Values of ``features[i]`` at ``rows[i]``, fetched one feature at a time."""
    values = np.empty(len(rows), dtype=object)
    for j in np.unique(features):
        at = features == j
        values[at] = value_at(int(j), rows[at])
    return values


def breakdowns(
    points: np.ndarray,
    rows: np.ndarray,
    measures: np.ndarray,
    table: Measures,
    describe: Callable[[int, np.ndarray, np.ndarray], list[dict[str, Any]]],
    unit: PointsUnit = "health",
) -> list[list[dict[str, Any]]]:
    """The features under each (row, measure) pair, largest ``|points|`` first.

    Features worth exactly 0 are left out; beyond :data:`BREAKDOWN` the rest are summed into one
    ``other`` entry, so each breakdown adds up to its measure's points.

    Args:
        points: health points per row and feature.
        rows: row of each pair.
        measures: measure index of each pair.
        table: the model's measures.
        describe: ``(feature, rows, points) -> entries`` with values and sentences.
        unit: what the points are (health, or percentage points of risk).
    """
    pair_of, feature_of, shown = [], [], []  # per column of the ordered members
    rests: list[tuple[int, int, float]] = []  # pair, features summed, their points
    for m in np.unique(measures):  # the pairs of one measure share its members: sort at once
        at = np.flatnonzero(measures == m)
        members = table.members[m]
        share = points[np.ix_(rows[at], members)]
        order = np.argsort(-np.abs(share), axis=1, kind="stable")
        ordered = np.take_along_axis(share, order, axis=1)
        moved = np.count_nonzero(ordered, axis=1)  # features worth 0 sort last
        for k in range(min(BREAKDOWN, len(members))):
            listed = moved > k
            pair_of.append(at[listed])
            feature_of.append(members[order[listed, k]])
            shown.append(ordered[listed, k])
        for i in np.flatnonzero(moved > BREAKDOWN):
            rest = ordered[i, BREAKDOWN : moved[i]]
            rests.append((int(at[i]), len(rest), float(rest.sum())))
    # by pair, each pair's features in their order (a stable sort keeps the column order)
    pairs, features, values = (
        np.concatenate(c or [np.empty(0)]) for c in (pair_of, feature_of, shown)
    )
    by_pair = np.argsort(pairs, kind="stable")
    pairs, features, values = pairs[by_pair].astype(np.int64), features[by_pair], values[by_pair]
    rests.sort()
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(rows))]
    entries: list[Any] = [None] * len(pairs)
    for j in np.unique(features):
        at = np.flatnonzero(features == j)
        for position, entry in zip(
            at.tolist(), describe(int(j), rows[pairs[at]], values[at]), strict=True
        ):
            entries[position] = entry
    for pair, entry in zip(pairs.tolist(), entries, strict=True):
        out[pair].append(entry)
    for i, count, total in rests:
        out[i].append(
            {
                "feature": "other",
                "label": f"{count} other features",
                "health_points": total,
                "sentence": f"{count} other features together ({format_points(total, unit)})",
            }
        )
    return out
