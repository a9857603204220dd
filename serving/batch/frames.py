"""Snapshot rows -> store rows: scores with their reasons, and parent roll-ups.

Both engines call these functions (DuckDB in-process, Spark inside ``mapInPandas`` and
``applyInPandas``), so they store the same numbers. JSON columns are produced here as compact JSON
text (``allow_nan=False``: a missing value is ``null``), ready to be bound as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic_core import from_json, to_json

from vitals.models.health_model import RISK_COLUMNS, HealthModel
from vitals.models.rollup import Weighting
from vitals.models.scorecard import BAND, POINTS, SCORE, Scorecards, model_bands
from vitals.serving.store.db import json_values

WEIGHTINGS: tuple[Weighting, ...] = ("count", "contract_value")
TOP_CHILDREN = 3
TOP_PARENT_REASONS = 5

SCORE_SCHEMA: dict[str, str] = {
    "account_id": "string",
    "as_of": "date",
    "model_version": "string",
    "parent_id": "string",
    "segment": "string",
    "profile": "string",
    "pooled": "boolean",
    "churn_probability": "double",
    "health_score": "double",
    "band": "string",
    "baseline_score": "double",
    "contract_value": "double",
    "revenue_at_risk": "double",
    "reasons": "string",
    **{column: "double" for column in RISK_COLUMNS},
    "renewal_risk": "double",
    "days_to_renewal": "double",
    "renewal_revenue_at_risk": "double",
    "scorecard_score": "double",
    "scorecard_band": "string",
    "scorecard_points": "string",
}
ROLLUP_SCHEMA: dict[str, str] = {
    "parent_id": "string",
    "as_of": "date",
    "model_version": "string",
    "weighting": "string",
    "depth": "bigint",
    "own_usage": "boolean",
    "n_accounts": "bigint",
    "weight": "double",
    "share_good": "double",
    "share_average": "double",
    "share_poor": "double",
    "health": "double",
    "contract_value": "double",
    "revenue_at_risk": "double",
    "pulling_down": "string",
    "reasons": "string",
    "renewal_revenue_at_risk": "double",
}
#: the columns of the scores a roll-up reads (with their reasons)
ROLLED_UP = (
    "as_of", "model_version", "account_id",
    "churn_probability", "renewal_risk", "band", "contract_value",
)  # fmt: skip
_ROLLUP_NUMBERS = (
    "weight", "share_good", "share_average", "share_poor", "health", "contract_value",
    "revenue_at_risk", "renewal_revenue_at_risk",
)  # fmt: skip
_PULLING_KEYS = ("rank", "child_id", "child_health", "health_points_lost")
_PARENT_REASON_KEYS = ("rank", "measure", "label", "health_points")
_REASON_KEYS = (
    *("rank", "measure", "feature", "label", "unit", "value", "previous_value", "exact_value"),
    *("exact_previous_value", "health_points", "sentence", "breakdown"),
)


def score_accounts(
    model: HealthModel,
    frame: pd.DataFrame,
    model_version: str,
    top_k: int = 5,
    scorecards: Scorecards | None = None,
) -> pd.DataFrame:
    """Score snapshot rows and explain each score (see :func:`score_and_reason`)."""
    return score_and_reason(model, frame, model_version, top_k, scorecards)[0]


def score_and_reason(
    model: HealthModel,
    frame: pd.DataFrame,
    model_version: str,
    top_k: int = 5,
    scorecards: Scorecards | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score snapshot rows and explain each score; the reasons also as a long table.

    Args:
        model: the fitted health model.
        frame: snapshot rows (``account_id``, ``as_of``, ``parent_id``, ``contract_value`` and
            the model's features).
        model_version: recorded with every row.
        top_k: reasons kept per account.
        scorecards: the scorecards scored beside the model (their points as JSON text);
            ``None`` leaves the scorecard columns empty.

    Returns:
        One row per snapshot with the columns of :data:`SCORE_SCHEMA` (``reasons`` is JSON
        text), and those reasons as :func:`reasons_long` reads them back, without reading the
        JSON (kilobytes per account).

    Raises:
        vitals.models.frames.InputError: rows the model cannot score.
    """
    frame = frame.reset_index(drop=True)
    # rows keyed by position: a frame may hold several dates of one account (Spark partitions)
    position = np.arange(len(frame)).astype(str).astype(object)
    explained = model.explain(frame.assign(account_id=position), top_k=top_k)
    scores = explained.scores
    value = frame["contract_value"].to_numpy(dtype=np.float64, na_value=np.nan)
    probability = scores["churn_probability"].to_numpy(dtype=np.float64)
    renewal = scores["renewal_risk"].to_numpy(dtype=np.float64)
    ids = frame["account_id"].astype(object).to_numpy()
    scored = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": _dates(frame["as_of"]),
            "model_version": model_version,
            "parent_id": _nullable(frame["parent_id"]),
            "segment": _nullable(frame["segment"]),
            "profile": scores["profile"].astype(object).to_numpy(),
            "pooled": scores["pooled"].to_numpy(dtype=bool),
            "churn_probability": probability,
            "health_score": scores["health_score"].to_numpy(dtype=np.float64),
            "band": scores["band"].astype(object).to_numpy(),
            "baseline_score": scores["baseline_score"].to_numpy(dtype=np.float64),
            "contract_value": value,
            "revenue_at_risk": probability * value,
            "reasons": _grouped_json(position, explained.reasons, "account_id", _REASON_KEYS),
            **{c: scores[c].to_numpy(dtype=np.float64) for c in RISK_COLUMNS},
            "renewal_risk": renewal,
            "days_to_renewal": _optional_number(frame, "days_to_renewal"),
            "renewal_revenue_at_risk": renewal * value,
            **_scorecard_columns(model, frame, scores["profile"], scorecards),
        }
    )
    reasons = explained.reasons
    long = pd.DataFrame(
        {
            "account_id": ids[reasons["account_id"].astype(np.int64).to_numpy()],
            "measure": reasons["measure"].to_numpy(dtype=object),
            "health_points": reasons["health_points"].to_numpy(dtype=np.float64),
        }
    )
    return scored, long


def _scorecard_columns(
    model: HealthModel, frame: pd.DataFrame, profiles: pd.Series, cards: Scorecards | None
) -> dict[str, np.ndarray]:
    """The scorecard's score, band and points (JSON text) beside the model's."""
    if cards is None:
        empty = np.full(len(frame), None, dtype=object)
        return {SCORE: np.full(len(frame), np.nan), BAND: empty, POINTS: empty.copy()}
    scored = cards.score(frame, profiles.to_numpy(), bands=model_bands(model), explain=True)
    points = [None if p is None else compact_json(p) for p in scored[POINTS]]
    return {
        SCORE: scored[SCORE].to_numpy(dtype=np.float64),
        BAND: scored[BAND].astype(object).to_numpy(),
        POINTS: np.array(points, dtype=object),
    }


def roll_up_scores(
    model: HealthModel,
    tree: pd.DataFrame,
    scored: pd.DataFrame,
    reasons: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Roll one date's scores up the hierarchy, by count and by contract value.

    A current customer without a covering subscription counts with contract value 0. Parents
    without a scored member that date are left out.

    Args:
        model: the model that scored (its band weights are used).
        tree: ``account_id, parent_id`` of every account.
        scored: rows from :func:`score_accounts` of a single ``as_of`` (the columns of
            :data:`ROLLED_UP` suffice when ``reasons`` are given).
        reasons: ``scored``'s reasons as :func:`reasons_long` gives them, when already at hand
            (they are read from the ``reasons`` JSON otherwise).

    Returns:
        One row per (parent, weighting) with the columns of :data:`ROLLUP_SCHEMA`.

    Raises:
        ValueError: ``scored`` spans several dates.
    """
    columns = list(ROLLUP_SCHEMA)
    if scored.empty:
        return pd.DataFrame(columns=columns)
    dates = pd.unique(scored["as_of"])
    if len(dates) != 1:
        raise ValueError(f"roll-ups are per date, got {len(dates)} dates")
    scores = scored[list(ROLLED_UP[2:])].copy()
    scores["contract_value"] = scores["contract_value"].fillna(0.0)
    if reasons is None:
        reasons = reasons_long(scored)
    parts = []
    for weighting in WEIGHTINGS:
        rolled = model.roll_up(
            tree, scores, weighting, reasons=reasons,
            top_children=TOP_CHILDREN, top_reasons=TOP_PARENT_REASONS,
        )  # fmt: skip
        parents = rolled.parents[rolled.parents["n_accounts"] > 0].reset_index(drop=True)
        ids = parents["account_id"].astype(object).to_numpy()
        pulling = _json_by_parent(ids, rolled.pulling_down, _PULLING_KEYS)
        parent_reasons = _json_by_parent(ids, rolled.reasons, _PARENT_REASON_KEYS)
        parts.append(
            pd.DataFrame(
                {
                    "parent_id": ids,
                    "as_of": dates[0],
                    "model_version": scored["model_version"].iloc[0],
                    "weighting": weighting,
                    "depth": parents["depth"].to_numpy(dtype=np.int64),
                    "own_usage": parents["own_usage"].to_numpy(dtype=bool),
                    "n_accounts": parents["n_accounts"].to_numpy(dtype=np.int64),
                    **{c: parents[c].to_numpy(dtype=np.float64) for c in _ROLLUP_NUMBERS},
                    "pulling_down": pulling,
                    "reasons": parent_reasons,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[columns]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts for the store: NaN becomes ``None``, numpy scalars Python ones."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")


def _optional_number(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _dates(column: pd.Series) -> np.ndarray:
    return pd.to_datetime(column).dt.date.to_numpy(dtype=object)


def _nullable(column: pd.Series) -> np.ndarray:
    return column.astype(object).where(column.notna(), None).to_numpy(dtype=object)


def _grouped_json(ids: np.ndarray, long: pd.DataFrame, owner: str, keys: tuple[str, ...]) -> list:
    """JSON list per id of the rows of ``long`` whose ``owner`` column names it (in table order)."""
    out = ["[]"] * len(ids)
    if long.empty:
        return out
    position = pd.Index(ids).get_indexer(long[owner].to_numpy(dtype=object))
    columns = [json_values(long[k]) for k in keys]
    items: dict[int, list[dict[str, Any]]] = {}
    for i, row in enumerate(zip(*columns, strict=True)):
        if position[i] >= 0:
            items.setdefault(int(position[i]), []).append(dict(zip(keys, row, strict=True)))
    for i, entries in items.items():
        out[i] = compact_json(entries)
    return out


def compact_json(value: Any) -> str:
    """``value`` as compact JSON text (non-finite numbers as ``null``), written by pydantic's
    Rust encoder: several times faster than ``json.dumps`` on the reasons of every score."""
    return to_json(value, inf_nan_mode="null").decode()


def _json_by_parent(ids: np.ndarray, long: pd.DataFrame, keys: tuple[str, ...]) -> list[str]:
    return _grouped_json(ids, long, "parent_id", keys)


def reasons_long(scored: pd.DataFrame) -> pd.DataFrame:
    """Reasons JSON back as a long table ``account_id, measure, health_points``, in the rows'
    order."""
    rows = [
        (account, r["measure"], r["health_points"])
        for account, text in zip(scored["account_id"], scored["reasons"], strict=True)
        for r in from_json(text)
    ]
    return pd.DataFrame(rows, columns=["account_id", "measure", "health_points"])
