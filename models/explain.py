"""Explanation tables: the top reasons per account, and the shares of a score change.

Both tables are long (one row per reason) and ordered per account by the size of the health
points. A reason is a measure (:mod:`vitals.models.measures`): its points are the sum of its
features', its sentence comes from the feature that moved most, and its ``breakdown`` lists the
features. Sentences are built only for the rows that are returned (see
:mod:`vitals.models.reasons` for how log-odds become health points). Values are rounded for
reading; ``exact_*`` fields keep them as computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSpec
from vitals.models.measures import Measures, breakdowns, exact, fetch, readable
from vitals.models.reasons import (
    OTHER_COMPONENT,
    PROFILE_COMPONENT,
    PointsUnit,
    change_sentence,
    format_points,
    measure_sentence,
    reason_sentence,
    reason_statement,
    with_points,
)


@dataclass(frozen=True)
class Explanation:
    """Scores with their top reasons.

    Attributes:
        scores: the :meth:`HealthModel.predict` columns plus ``baseline_score`` (the profile's
            score at the booster's base value; each account's reasons sum to
            ``health_score - baseline_score`` over all features).
        reasons: one row per reason, see :func:`reasons_table`.
    """

    scores: pd.DataFrame
    reasons: pd.DataFrame


@dataclass(frozen=True)
class ChangeExplanation:
    """Why scores moved between two dates.

    Attributes:
        summary: per account ``profile_then, profile_now, score_then, score_now, score_change,
            band_then, band_now``.
        contributions: one row per component, see :func:`change_table`; per
            account the ``health_points`` sum to ``score_change``.
    """

    summary: pd.DataFrame
    contributions: pd.DataFrame


_NUMERIC_COLUMNS = {"rank": np.int64, "health_points": np.float64, "log_odds": np.float64}

# (feature index, row positions) -> values of that feature at those rows (object array)
ValueGetter = Callable[[int, np.ndarray], np.ndarray]
PreviousGetter = Callable[[int, np.ndarray], np.ndarray | None]


def top_k_indices(points: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest ``|points|`` of each row, largest first.

    Args:
        points: health points, shape (rows, features).
        k: how many per row (capped at the number of features).

    Returns:
        Integer array of shape (rows, k).
    """
    n, p = points.shape
    k = min(k, p)
    magnitude = np.abs(points)
    if k < p:
        candidates = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(p), (n, p))
    order = np.argsort(-np.take_along_axis(magnitude, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


@dataclass(frozen=True)
class ReasonColumns:
    """The top reasons of some rows, one entry per reason.

    Attributes:
        rows: row position of each reason.
        columns: ``rank, measure, feature, label, unit, value, previous_value, exact_value,
            exact_previous_value, direction, health_points, log_odds, sentence, breakdown``, as
            plain lists (``feature`` and its values are the measure's lead feature's).
    """

    rows: np.ndarray
    columns: dict[str, list[Any]]


def _fetch_previous(previous_at: PreviousGetter, features: np.ndarray, rows: np.ndarray):
    previous = np.full(len(rows), None, dtype=object)
    for j in np.unique(features):
        at = features == j
        before = previous_at(int(j), rows[at])
        if before is not None:
            previous[at] = before
    return previous


def reason_columns(
    points: np.ndarray,
    phi: np.ndarray,
    k: int,
    specs: Sequence[FeatureSpec],
    value_at: ValueGetter,
    previous_at: PreviousGetter,
    unit: PointsUnit = "health",
) -> ReasonColumns:
    """The ``k`` largest measures of each row; measures worth exactly 0 points are left out.

    Args:
        points: health points per row and feature.
        phi: log-odds contributions per row and feature (base value last).
        k: measures per row.
        specs: catalog entry per feature, in feature order.
        value_at: values of a feature at some rows.
        previous_at: values of a feature a window earlier at some rows, ``None`` if unknown.
        unit: what the points are: health points, or percentage points of risk (the column
            keeps the name ``health_points``; the sentences say which).
    """
    table = Measures.of(specs)
    measure_points = table.totals(points)
    top = top_k_indices(measure_points, k)
    n, kept = top.shape
    rows = np.repeat(np.arange(n), kept)
    measures = top.ravel()
    rank = np.tile(np.arange(1, kept + 1), n)
    pts = measure_points[rows, measures]
    keep = pts != 0.0
    rows, measures, rank, pts = rows[keep], measures[keep], rank[keep], pts[keep]
    lead = table.leads(points, rows, measures)
    values = fetch(value_at, lead, rows)
    previous = _fetch_previous(previous_at, lead, rows)
    log_odds = table.totals(phi[:, :-1])[rows, measures]

    def describe(j: int, at: np.ndarray, shares: np.ndarray) -> list[dict[str, Any]]:
        spec = specs[j]
        now, before = value_at(j, at), previous_at(j, at)
        before = np.full(len(at), None, dtype=object) if before is None else before
        # many accounts share a value (a count, a plan): each pair of values is worded once
        worded: dict[tuple[tuple[type, Any], tuple[type, Any]], tuple[str, Any, Any]] = {}
        entries = []
        for v, b, p in zip(now, before, shares.tolist(), strict=True):
            key = (_memo_key(v), _memo_key(b))
            if (said := worded.get(key)) is None:
                said = worded[key] = (reason_statement(spec, v, b), readable(v), readable(b))
            statement, shown, shown_before = said
            entries.append(_entry(spec, shown, shown_before, p, with_points(statement, p, unit)))
        return entries

    points_list, features = pts.tolist(), lead.tolist()
    return ReasonColumns(
        rows,
        {
            "rank": rank.tolist(),
            "measure": [table.names[m] for m in measures.tolist()],
            "feature": [specs[f].name for f in features],
            "label": [specs[f].label for f in features],
            "unit": [specs[f].unit for f in features],
            "value": [readable(v) for v in values],
            "previous_value": [readable(v) for v in previous],
            "exact_value": [exact(v) for v in values],
            "exact_previous_value": [exact(v) for v in previous],
            "direction": ["raises" if p > 0 else "lowers" for p in points_list],
            "health_points": points_list,
            "log_odds": log_odds.tolist(),
            "sentence": [
                measure_sentence(table.names[m], reason_sentence(specs[f], v, b, p, unit))
                for m, f, v, b, p in zip(
                    measures.tolist(), features, values, previous, points_list, strict=True
                )
            ],
            "breakdown": breakdowns(points, rows, measures, table, describe, unit),
        },
    )


def _entry(spec: FeatureSpec, shown: Any, shown_before: Any, points: float, sentence: str) -> dict:
    """A breakdown entry, its values already :func:`readable`."""
    return {
        "feature": spec.name,
        "label": spec.label,
        "unit": spec.unit,
        "value": shown,
        "previous_value": shown_before,
        "health_points": points,
        "sentence": sentence,
    }


def _memo_key(value: Any) -> tuple[type, Any]:
    """A key equal for two values exactly when they read the same: of the same type, and floats
    by their bits, so that NaN matches NaN and ``-0.0`` (worded ``-0``) does not match ``0.0``."""
    if isinstance(value, float | np.floating):
        return type(value), float(value).hex()
    return type(value), value


def reasons_table(ids: np.ndarray, reasons: ReasonColumns) -> pd.DataFrame:
    """The reasons as a long table: ``account_id`` then the columns of :class:`ReasonColumns`."""
    typed = {
        k: np.array(v, dtype=_NUMERIC_COLUMNS.get(k, object)) if k != "breakdown" else _objects(v)
        for k, v in reasons.columns.items()
    }
    return pd.DataFrame({"account_id": ids[reasons.rows], **typed})


def _objects(items: list[Any]) -> np.ndarray:
    """A 1-d object array of ``items`` (lists stay whole elements)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def reason_records(n_rows: int, reasons: ReasonColumns) -> list[list[dict[str, Any]]]:
    """The reasons as a list of dicts per row (JSON-ready)."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(n_rows)]
    names = list(reasons.columns)
    for row, values in zip(
        reasons.rows.tolist(), zip(*reasons.columns.values(), strict=True), strict=True
    ):
        out[row].append(dict(zip(names, values, strict=True)))
    return out


def change_table(
    ids: np.ndarray,
    points: np.ndarray,
    specs: Sequence[FeatureSpec],
    then_at: ValueGetter,
    now_at: ValueGetter,
    profile_points: np.ndarray,
    profile_then: np.ndarray,
    profile_now: np.ndarray,
    top_k: int | None,
    unit: PointsUnit = "health",
) -> pd.DataFrame:
    """Per-account shares of a score change, by measure, as a long table that sums to the change.

    Args:
        ids: account id per row.
        points: health points per row and feature (the split of the score change).
        specs: catalog entry per feature, in feature order.
        then_at: feature values at the earlier date.
        now_at: feature values at the later date.
        profile_points: points of the ``profile`` component per row (0 where unchanged): a
            change of profile, or of the time left in a tenure-bound one.
        profile_then: profile per row at the earlier date.
        profile_now: profile per row at the later date.
        top_k: keep this many measures per account and sum the rest into one
            ``other_measures`` row (``None`` keeps every measure that moved the score).
        unit: what the points are (health points, or percentage points of risk).

    Returns:
        Columns ``account_id, rank, component, measure, feature, label, unit, value_then,
        value_now, exact_value_then, exact_value_now, health_points, sentence, breakdown``;
        ``component`` is the measure, ``profile`` or ``other_measures``; per account the health
        points add up to the score change.
    """
    table = Measures.of(specs)
    measure_points = table.totals(points)
    m = measure_points.shape[1]
    order = np.argsort(-np.abs(measure_points), axis=1, kind="stable")
    ordered = np.take_along_axis(measure_points, order, axis=1)
    moved = ordered != 0.0
    keep = moved if top_k is None else moved & (np.arange(m)[None, :] < top_k)
    rest = np.where(moved & ~keep, ordered, 0.0)
    rows, cols = np.nonzero(keep)
    measures = order[rows, cols]
    pts = ordered[rows, cols]
    lead = table.leads(points, rows, measures)
    then_values, now_values = fetch(then_at, lead, rows), fetch(now_at, lead, rows)

    def describe(j: int, at: np.ndarray, shares: np.ndarray) -> list[dict[str, Any]]:
        spec = specs[j]
        return [
            {
                **_entry(spec, readable(b), None, p, change_sentence(spec, a, b, p, unit)),
                "value_then": readable(a),
            }
            for a, b, p in zip(then_at(j, at), now_at(j, at), shares.tolist(), strict=True)
        ]

    features = lead.tolist()
    parts = [
        pd.DataFrame(
            {
                "row": rows,
                "last": False,
                "component": [table.names[k] for k in measures.tolist()],
                "measure": [table.names[k] for k in measures.tolist()],
                "feature": [specs[f].name for f in features],
                "label": [specs[f].label for f in features],
                "unit": [specs[f].unit for f in features],
                "value_then": [readable(v) for v in then_values],
                "value_now": [readable(v) for v in now_values],
                "exact_value_then": [exact(v) for v in then_values],
                "exact_value_now": [exact(v) for v in now_values],
                "health_points": pts,
                "sentence": [
                    measure_sentence(table.names[k], change_sentence(specs[f], a, b, q, unit))
                    for k, f, a, b, q in zip(
                        measures.tolist(),
                        features,
                        then_values,
                        now_values,
                        pts.tolist(),
                        strict=True,
                    )
                ],
                "breakdown": _objects(breakdowns(points, rows, measures, table, describe, unit)),
            }
        )
    ]
    # a profile left, or a shorter stay ahead in a tenure-bound one (e.g. onboarding)
    changed = np.flatnonzero((profile_then != profile_now) | (profile_points != 0.0))
    if changed.size:
        parts.append(
            pd.DataFrame(
                {
                    "row": changed,
                    "last": False,
                    "component": PROFILE_COMPONENT,
                    "label": "Health profile",
                    "value_then": profile_then[changed],
                    "value_now": profile_now[changed],
                    "exact_value_then": profile_then[changed],
                    "exact_value_now": profile_now[changed],
                    "health_points": profile_points[changed],
                    "sentence": [
                        f"Health profile changed from {a} to {b} ({format_points(q, unit)})"
                        if a != b
                        else f"Less time left in the {a} profile ({format_points(q, unit)})"
                        for a, b, q in zip(
                            profile_then[changed],
                            profile_now[changed],
                            profile_points[changed].tolist(),
                            strict=True,
                        )
                    ],
                }
            )
        )
    n_rest = (rest != 0.0).sum(axis=1)
    others = np.flatnonzero(n_rest)
    if others.size:
        total = rest.sum(axis=1)[others]
        parts.append(
            pd.DataFrame(
                {
                    "row": others,
                    "last": True,
                    "component": OTHER_COMPONENT,
                    "label": "Other measures",
                    "health_points": total,
                    "sentence": [
                        f"{c} other measures together ({format_points(q, unit)})"
                        for c, q in zip(n_rest[others].tolist(), total.tolist(), strict=True)
                    ],
                }
            )
        )
    table_ = pd.concat(parts, ignore_index=True)
    table_ = table_.iloc[
        np.lexsort((-table_["health_points"].abs().to_numpy(), table_["last"], table_["row"]))
    ]
    row = table_["row"].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)])) + 1
    table_.insert(0, "account_id", ids[row])
    table_.insert(1, "rank", rank)
    out = table_.drop(columns=["row", "last"]).reset_index(drop=True)
    for column in ("measure", "feature", "unit", "breakdown"):  # None, not NaN, where absent
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
