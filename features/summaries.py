"""Churn summaries of feature snapshots: churn per month, and churn by decile of a feature.

Both read a snapshot frame (``Snapshots.to_pandas()``: one row per account and ``as_of`` date,
with the churn label and ``churn_date``) and return a small table, for exploring data before a
model is trained (``notebooks/01_explore_data.ipynb``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

DECILES = range(1, 11)


def churn_by_month(snapshots: pd.DataFrame, label: str = "churned_within_horizon") -> pd.DataFrame:
    """Churn per calendar month of the snapshot dates.

    Args:
        snapshots: ``account_id``, ``as_of``, ``churn_date`` (the account's next churn, missing
            while unknown) and ``label`` per snapshot; the dates may be strings, dates or
            timestamps.
        label: the 0/1 churn label (missing when censored).

    Returns:
        One row per month (a monthly ``Period`` index named ``month``) from the first to the
        last month of ``as_of``, with ``customers`` (the accounts with a snapshot dated that
        month), ``churned`` (the accounts whose ``churn_date`` falls in that month, each churn
        of an account counted once however many snapshots carry it), ``share_<label>`` (the
        share of that month's labelled snapshots whose label is 1) and ``monthly_churn_rate``
        (``churned`` over ``customers``; missing for a month without snapshots).

    Raises:
        ValueError: a column is missing.
    """
    _require(snapshots, ["account_id", "as_of", "churn_date", label])
    as_of = _months(snapshots["as_of"])
    share = f"share_{label}"
    columns = ["customers", "churned", share, "monthly_churn_rate"]
    if as_of.isna().all():
        return pd.DataFrame(columns=columns, index=pd.PeriodIndex([], freq="M", name="month"))
    months = pd.period_range(as_of.min(), as_of.max(), freq="M", name="month")
    churn_day = _timestamps(snapshots["churn_date"])
    churns = (
        pd.DataFrame({"account_id": snapshots["account_id"], "day": churn_day})
        .dropna(subset=["day"])
        .drop_duplicates()
    )
    outcome = pd.to_numeric(snapshots[label], errors="raise").astype("float64")
    table = pd.DataFrame(
        {
            "customers": snapshots["account_id"].groupby(as_of).nunique().reindex(months),
            "churned": churns["day"].dt.to_period("M").value_counts().reindex(months),
            share: outcome.groupby(as_of).mean().reindex(months),
        },
        index=months,
    )
    table[["customers", "churned"]] = table[["customers", "churned"]].fillna(0)
    table = table.astype({"customers": "int64", "churned": "int64"})
    customers = table["customers"].where(table["customers"] > 0)
    table["monthly_churn_rate"] = table["churned"] / customers
    return table[columns]


def churn_by_decile(
    snapshots: pd.DataFrame,
    features: Sequence[str],
    label: str = "churned_within_horizon",
) -> pd.DataFrame:
    """The churn share in each decile of each feature, over the labelled snapshots.

    Only snapshots with a label count. Each feature's values are ranked (ties in row order) and
    the ranks cut into ten equal-count deciles, decile 1 holding the lowest values; a missing
    value is left out of the deciles.

    Args:
        snapshots: the snapshot frame, with ``label`` and every feature of ``features``.
        features: the feature columns to cut into deciles.
        label: the 0/1 churn label (missing when censored).

    Returns:
        Rows: deciles 1 to 10 (index ``decile``); columns: the features, in the given order;
        values: the share of the decile's snapshots whose label is 1.

    Raises:
        ValueError: the label or a feature is missing, or a feature has fewer than ten
            labelled values.
    """
    _require(snapshots, [label, *features])
    labelled = snapshots[snapshots[label].notna()]
    outcome = pd.to_numeric(labelled[label], errors="raise").astype("float64")
    table = {}
    for name in features:
        ranks = labelled[name].rank(method="first")
        if ranks.count() < len(DECILES):
            raise ValueError(
                f"feature {name!r} has {ranks.count()} labelled values: deciles need at least 10"
            )
        deciles = pd.qcut(ranks, len(DECILES), labels=list(DECILES))
        shares = outcome.groupby(deciles, observed=False).mean()
        table[name] = shares.set_axis(pd.Index(list(DECILES), name="decile"))
    return pd.DataFrame(table, index=pd.Index(list(DECILES), name="decile"))


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise naming the first of ``columns`` that ``frame`` lacks."""
    for column in columns:
        if column not in frame.columns:
            raise ValueError(f"the snapshots have no column {column!r}")


def _timestamps(values: pd.Series) -> pd.Series:
    """``values`` (strings, dates or timestamps, possibly with a time zone) as naive timestamps."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert(None)


def _months(values: pd.Series) -> pd.Series:
    """The calendar month of each value (missing stays missing)."""
    return _timestamps(values).dt.to_period("M")
