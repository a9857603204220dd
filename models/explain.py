"""Explanation tables: the top reasons per account, and the shares of a score change.

Both tables are long (one row per reason) and ordered per account by the size of the health
points. Sentences are built only for the rows that are returned (see :mod:`vitals.models.reasons`
for how log-odds become health points).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSpec
from vitals.models.reasons import (
    OTHER_COMPONENT,
    PROFILE_COMPONENT,
    change_sentence,
    format_points,
    reason_sentence,
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
        columns: ``rank, feature, label, value, previous_value, direction, health_points,
            log_odds, sentence``, as plain lists.
    """

    rows: np.ndarray
    columns: dict[str, list[Any]]


def reason_columns(
    points: np.ndarray,
    phi: np.ndarray,
    top: np.ndarray,
    specs: Sequence[FeatureSpec],
    value_at: ValueGetter,
    previous_at: PreviousGetter,
) -> ReasonColumns:
    """The top reasons of each row; reasons worth exactly 0 points are left out.

    Args:
        points: health points per row and feature.
        phi: log-odds contributions per row and feature.
        top: feature indices per row from :func:`top_k_indices`.
        specs: catalog entry per feature, in feature order.
        value_at: values of a feature at some rows.
        previous_at: values of a feature a window earlier at some rows, ``None`` if unknown.
    """
    n, k = top.shape
    rows = np.repeat(np.arange(n), k)
    feats = top.ravel()
    rank = np.tile(np.arange(1, k + 1), n)
    pts = points[rows, feats]
    keep = pts != 0.0
    rows, feats, rank, pts = rows[keep], feats[keep], rank[keep], pts[keep]
    values = np.empty(len(rows), dtype=object)
    previous = np.full(len(rows), None, dtype=object)
    for j in np.unique(feats):
        at = feats == j
        values[at] = value_at(int(j), rows[at])
        before = previous_at(int(j), rows[at])
        if before is not None:
            previous[at] = before
    features, points_list = feats.tolist(), pts.tolist()
    sentences = [
        reason_sentence(specs[f], v, b, p)
        for f, v, b, p in zip(features, values, previous, points_list, strict=True)
    ]
    return ReasonColumns(
        rows,
        {
            "rank": rank.tolist(),
            "feature": [specs[f].name for f in features],
            "label": [specs[f].label for f in features],
            "value": values.tolist(),
            "previous_value": previous.tolist(),
            "direction": ["raises" if p > 0 else "lowers" for p in points_list],
            "health_points": points_list,
            "log_odds": phi[rows, feats].tolist(),
            "sentence": sentences,
        },
    )


def reasons_table(ids: np.ndarray, reasons: ReasonColumns) -> pd.DataFrame:
    """The reasons as a long table: ``account_id`` then the columns of :class:`ReasonColumns`."""
    typed = {
        k: np.array(v, dtype=_NUMERIC_COLUMNS.get(k, object)) for k, v in reasons.columns.items()
    }
    return pd.DataFrame({"account_id": ids[reasons.rows], **typed})


def reason_records(n_rows: int, reasons: ReasonColumns) -> list[list[dict[str, Any]]]:
    """The reasons as a list of dicts per row (JSON-ready: non-finite values become ``None``)."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(n_rows)]
    names = list(reasons.columns)
    for row, values in zip(
        reasons.rows.tolist(), zip(*reasons.columns.values(), strict=True), strict=True
    ):
        record = dict(zip(names, values, strict=True))
        record["value"] = _json_value(record["value"])
        record["previous_value"] = _json_value(record["previous_value"])
        out[row].append(record)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
) -> pd.DataFrame:
    """Per-account shares of a score change as a long table that sums to the change.

    Args:
        ids: account id per row.
        points: health points per row and feature (the split of the score change).
        specs: catalog entry per feature, in feature order.
        then_at: feature values at the earlier date.
        now_at: feature values at the later date.
        profile_points: points of the ``profile`` component per row (0 where unchanged).
        profile_then: profile per row at the earlier date.
        profile_now: profile per row at the later date.
        top_k: keep this many features per account and sum the rest into one
            ``other_features`` row (``None`` keeps every feature that moved the score).

    Returns:
        Columns ``account_id, rank, component, label, value_then, value_now, health_points,
        sentence``; per account the health points add up to the score change.
    """
    _n, p = points.shape
    order = np.argsort(-np.abs(points), axis=1, kind="stable")
    ordered = np.take_along_axis(points, order, axis=1)
    moved = ordered != 0.0
    keep = moved if top_k is None else moved & (np.arange(p)[None, :] < top_k)
    rest = np.where(moved & ~keep, ordered, 0.0)
    rows, cols = np.nonzero(keep)
    feats = order[rows, cols]
    pts = ordered[rows, cols]
    then_values = np.empty(len(rows), dtype=object)
    now_values = np.empty(len(rows), dtype=object)
    for j in np.unique(feats):
        at = feats == j
        then_values[at] = then_at(int(j), rows[at])
        now_values[at] = now_at(int(j), rows[at])
    parts = [
        pd.DataFrame(
            {
                "row": rows,
                "last": False,
                "component": np.array([specs[f].name for f in feats], dtype=object),
                "label": np.array([specs[f].label for f in feats], dtype=object),
                "value_then": then_values,
                "value_now": now_values,
                "health_points": pts,
                "sentence": [
                    change_sentence(specs[f], a, b, q)
                    for f, a, b, q in zip(
                        feats.tolist(), then_values, now_values, pts.tolist(), strict=True
                    )
                ],
            }
        )
    ]
    changed = np.flatnonzero(profile_then != profile_now)
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
                    "health_points": profile_points[changed],
                    "sentence": [
                        f"Health profile changed from {a} to {b} ({format_points(q)})"
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
                    "label": "Other features",
                    "value_then": None,
                    "value_now": None,
                    "health_points": total,
                    "sentence": [
                        f"{m} other features together ({format_points(q)})"
                        for m, q in zip(n_rest[others].tolist(), total.tolist(), strict=True)
                    ],
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table = table.iloc[
        np.lexsort((-table["health_points"].abs().to_numpy(), table["last"], table["row"]))
    ]
    row = table["row"].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)])) + 1
    table.insert(0, "account_id", ids[row])
    table.insert(1, "rank", rank)
    return table.drop(columns=["row", "last"]).reset_index(drop=True)
