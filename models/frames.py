"""Checking an input frame and turning it into a booster's matrix.

The frame holds one row per account snapshot: ``account_id``, ``segment`` (string or null),
``tenure_days`` and the model's feature columns (``as_of`` is passed through when present); extra
columns are ignored. Numeric features may be NaN (LightGBM routes missing values natively);
categorical features are strings (or a pandas category of strings) and are cast to the category
codes of the profile's training data, an unseen level counting as missing, exactly as LightGBM's
own pandas path does. Every rejection names the column and, where one row is at fault, its account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACCOUNT_ID = "account_id"
AS_OF = "as_of"
SEGMENT = "segment"
TENURE_DAYS = "tenure_days"
_NUMERIC_KINDS = "biuf"
_SMALL_FRAME = 64  # rows up to which the feature matrix is taken from all columns at once


class InputError(ValueError):
    """Input the model cannot score; the message names the column and, if one, the account."""


@dataclass(frozen=True)
class FeatureLayout:
    """The booster's feature columns in order, and which of them are categorical."""

    names: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def numeric(self) -> tuple[str, ...]:
        """Numeric feature names, in booster order."""
        cats = set(self.categorical)
        return tuple(n for n in self.names if n not in cats)


def check_frame(frame: pd.DataFrame, layout: FeatureLayout, *, need_tenure: bool) -> np.ndarray:
    """Check columns, dtypes and missing values; return the account ids.

    Args:
        frame: the snapshot rows to score.
        layout: the model's features.
        need_tenure: whether routing reads ``tenure_days`` (then it may not be missing).

    Returns:
        The account ids as an object array.

    Raises:
        InputError: a missing column, a wrong dtype, a missing account id or tenure.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    needed = (ACCOUNT_ID, SEGMENT, TENURE_DAYS, *layout.names)
    # plain lists: iterating a pandas Index of strings costs far more on one-row frames
    dtypes = dict(zip(frame.columns.tolist(), frame.dtypes.tolist(), strict=True))
    missing = [c for c in needed if c not in dtypes]
    if missing:
        raise InputError(f"input is missing column(s) {missing} that the model needs")
    if not frame.columns.is_unique:
        repeated = sorted({c for c in needed if (frame.columns == c).sum() > 1})
        if repeated:
            raise InputError(f"input has column(s) {repeated} more than once")
    ids = frame[ACCOUNT_ID].to_numpy(dtype=object, na_value=None)
    absent = [i for i, v in enumerate(ids) if v is None or v != v]
    if absent:
        raise InputError(f"column 'account_id' is empty in row {frame.index[absent[0]]!r}")
    for name in (TENURE_DAYS, *layout.numeric):
        if getattr(dtypes[name], "kind", "O") not in _NUMERIC_KINDS:
            _check_numbers(frame, ids, name)
    for name in (SEGMENT, *layout.categorical):
        _check_strings(frame, ids, name, dtypes[name])
    if need_tenure:
        tenure = frame[TENURE_DAYS].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(tenure))
        if bad.size:
            raise InputError(
                f"account {ids[bad[0]]!r}: column 'tenure_days' is missing, and profile routing "
                "needs it"
            )
    return ids


def numeric_matrix(frame: pd.DataFrame, layout: FeatureLayout) -> np.ndarray:
    """Float matrix of all features in booster order; categorical columns are left NaN."""
    X = np.full((len(frame), len(layout.names)), np.nan)
    numeric = layout.numeric
    if numeric:
        values = _numeric_values(frame, numeric)
        if len(numeric) == len(layout.names):
            return np.ascontiguousarray(values)
        position = {n: i for i, n in enumerate(layout.names)}
        X[:, [position[n] for n in numeric]] = values
    return X


def _numeric_values(frame: pd.DataFrame, numeric: tuple[str, ...]) -> np.ndarray:
    if len(frame) > _SMALL_FRAME:
        return frame[list(numeric)].to_numpy(dtype=np.float64, na_value=np.nan)
    # selecting ~100 columns builds a new frame; on a few rows converting all is cheaper
    position = {c: i for i, c in enumerate(frame.columns.tolist())}
    values = frame.to_numpy(dtype=object, na_value=np.nan)
    return values[:, [position[c] for c in numeric]].astype(np.float64)


def categorical_values(frame: pd.DataFrame, layout: FeatureLayout) -> dict[str, np.ndarray]:
    """Raw categorical feature values as object arrays (``None`` where missing)."""
    return {n: frame[n].to_numpy(dtype=object, na_value=None) for n in layout.categorical}


def encode(
    X: np.ndarray,
    raw: Mapping[str, np.ndarray],
    layout: FeatureLayout,
    codes: Mapping[str, Mapping[str, int]],
    rows: np.ndarray,
) -> np.ndarray:
    """The rows of ``X`` with categorical columns set to one profile's category codes.

    Args:
        X: matrix from :func:`numeric_matrix`.
        raw: values from :func:`categorical_values`.
        layout: the model's features.
        codes: per categorical feature, the code of each training level (its position in the
            training categories, as pandas numbers them).
        rows: positions of the rows to take.

    Returns:
        A new float matrix for those rows; unseen or missing levels are NaN.
    """
    out = X[rows]
    for name in layout.categorical:
        lookup = codes[name]
        values = raw[name][rows]
        out[:, layout.names.index(name)] = np.fromiter(
            (lookup.get(v, np.nan) for v in values), dtype=np.float64, count=len(values)
        )
    return out


def align_accounts(then_ids: np.ndarray, now_ids: np.ndarray) -> np.ndarray:
    """Positions of the later frame's accounts in the earlier one.

    Raises:
        InputError: an account repeated in a frame, or present in only one of them.
    """
    for ids, which in ((then_ids, "frame_then"), (now_ids, "frame_now")):
        index = pd.Index(ids)
        if index.has_duplicates:
            raise InputError(f"account {index[index.duplicated()][0]!r} repeats in {which}")
    position = pd.Index(then_ids).get_indexer(now_ids)
    if (position < 0).any():
        raise InputError(f"account {now_ids[position < 0][0]!r} is missing from frame_then")
    if len(then_ids) != len(now_ids):
        extra = pd.Index(then_ids).difference(pd.Index(now_ids))
        raise InputError(f"account {extra[0]!r} is missing from frame_now")
    return position


def _check_numbers(frame: pd.DataFrame, ids: np.ndarray, name: str) -> None:
    column = frame[name]
    converted = pd.to_numeric(column, errors="coerce") if column.dtype == object else None
    if converted is not None:
        bad = np.flatnonzero(converted.isna().to_numpy() & column.notna().to_numpy())
        if bad.size == 0:
            return
    else:
        bad = np.flatnonzero(column.notna().to_numpy())
    where = f"account {ids[bad[0]]!r} has {column.iloc[bad[0]]!r}" if bad.size else "no values"
    raise InputError(f"column {name!r} must be numeric, got dtype {column.dtype} ({where})")


def _check_strings(frame: pd.DataFrame, ids: np.ndarray, name: str, dtype: object) -> None:
    if isinstance(dtype, pd.CategoricalDtype):
        values = np.asarray(dtype.categories, dtype=object)
        if all(isinstance(v, str) for v in values):
            return
        first = next(v for v in values if not isinstance(v, str))
        bad = np.flatnonzero(frame[name].to_numpy(dtype=object) == first)
    elif isinstance(dtype, pd.StringDtype):
        return
    else:
        values = frame[name].to_numpy(dtype=object, na_value=None)
        bad = np.flatnonzero([v is not None and v == v and not isinstance(v, str) for v in values])
        if bad.size == 0:
            return
        first = values[bad[0]]
    account = f"account {ids[bad[0]]!r} has {first!r}" if bad.size else f"category {first!r}"
    raise InputError(f"column {name!r} must hold strings (or nulls), got dtype {dtype} ({account})")
