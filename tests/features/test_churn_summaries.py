"""Churn per month and churn by decile (``vitals.features.summaries``) on hand-made snapshots.

The hand-made frames are small enough to work out every answer here; the properties draw random
snapshot frames and check what must hold whatever the data: churn counts that add up, and the
churners of a feature that only separates churners from the rest all in its top deciles.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.features.summaries import churn_by_decile, churn_by_month

LABEL = "churned_within_horizon"
SHARE = f"share_{LABEL}"
NA = None

# (account, as_of, churn_date, label). a stays; b churns on 2024-02-15 and is seen churning in
# two snapshots (counted once); c churns on 2024-01-20; d churns twice (it came back); e's churn
# lies after the last month (not counted); March has no labels yet (censored).
ROWS = [
    ("a", "2024-01-01", NA, 0),
    ("b", "2024-01-01", "2024-02-15", 1),
    ("c", "2024-01-01", "2024-01-20", 1),
    ("d", "2024-01-01", "2024-01-05", 1),
    ("a", "2024-02-01", NA, 0),
    ("b", "2024-02-01", "2024-02-15", 1),
    ("d", "2024-02-01", "2024-02-28", 1),
    ("e", "2024-02-01", "2024-05-01", 0),
    ("a", "2024-03-01", NA, NA),
    ("e", "2024-03-01", "2024-05-01", NA),
]


def snapshots(rows: list[tuple], kind: str = "str") -> pd.DataFrame:
    """The rows as a snapshot frame, with their dates as strings, dates or timestamps."""
    frame = pd.DataFrame(rows, columns=["account_id", "as_of", "churn_date", LABEL])
    frame[LABEL] = frame[LABEL].astype("Int64")
    for column in ("as_of", "churn_date"):
        if kind == "date":
            frame[column] = [
                date.fromisoformat(v) if isinstance(v, str) else None for v in frame[column]
            ]
        elif kind == "timestamp":
            frame[column] = pd.to_datetime(frame[column])
    return frame


@pytest.mark.parametrize("kind", ["str", "date", "timestamp"])
def test_churn_by_month_known_answer(kind: str) -> None:
    table = churn_by_month(snapshots(ROWS, kind))

    assert list(table.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert list(table.columns) == ["customers", "churned", SHARE, "monthly_churn_rate"]
    assert table["customers"].tolist() == [4, 4, 2]
    # January: c and d's first churn; February: b (once, seen twice) and d's second churn
    assert table["churned"].tolist() == [2, 2, 0]
    assert table[SHARE].iloc[:2].tolist() == pytest.approx([3 / 4, 2 / 4])
    assert np.isnan(table[SHARE].iloc[2])
    assert table["monthly_churn_rate"].tolist() == pytest.approx([2 / 4, 2 / 4, 0.0])


def test_churn_by_month_keeps_a_month_without_snapshots() -> None:
    rows = [
        ("a", "2024-01-01", "2024-02-10", 1),
        ("b", "2024-01-01", NA, 0),
        ("b", "2024-03-01", NA, 0),
    ]
    table = churn_by_month(snapshots(rows))

    assert list(table.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert table["customers"].tolist() == [2, 0, 1]
    assert table["churned"].tolist() == [0, 1, 0]
    assert np.isnan(table.loc["2024-02", "monthly_churn_rate"])
    assert table.loc["2024-03", "monthly_churn_rate"] == 0.0


def test_churn_by_month_of_a_timezone_aware_frame() -> None:
    frame = snapshots(ROWS, "timestamp")
    for column in ("as_of", "churn_date"):
        frame[column] = frame[column].dt.tz_localize("UTC")
    pd.testing.assert_frame_equal(churn_by_month(frame), churn_by_month(snapshots(ROWS)))


def test_churn_by_decile_known_answer() -> None:
    # x = 1..20, the four highest churn; y falls as x rises; unlabelled rows and a missing
    # value (with a churn) must not count
    labelled = pd.DataFrame(
        {"x": np.arange(1.0, 21.0), "y": np.arange(20.0, 0.0, -1.0), LABEL: [0] * 16 + [1] * 4}
    )
    others = pd.DataFrame({"x": [np.nan, 100.0, 200.0], "y": [5.5, 0.0, 0.0], LABEL: [1, NA, NA]})
    frame = pd.concat([labelled, others], ignore_index=True).astype({LABEL: "Int64"})

    table = churn_by_decile(frame, ["y", "x"])

    assert list(table.columns) == ["y", "x"]
    assert table.index.name == "decile"
    assert table.index.tolist() == list(range(1, 11))
    assert table["x"].tolist() == [0.0] * 8 + [1.0, 1.0]
    # y has 21 labelled values (x's missing one is y's 5.5), churners at y = 1..4 (ranks 1-4)
    # and 5.5 (rank 6); ten deciles of 21 ranks: [1, 3], (3, 5], (5, 7], ...
    assert table["y"].iloc[:3].tolist() == pytest.approx([1.0, 0.5, 0.5])
    assert table["y"].iloc[3:].tolist() == [0.0] * 7


def test_churn_by_decile_breaks_ties_in_row_order() -> None:
    frame = pd.DataFrame({"flat": [1.0] * 10, LABEL: [0] * 9 + [1]})
    assert churn_by_decile(frame, ["flat"])["flat"].tolist() == [0.0] * 9 + [1.0]


@pytest.mark.parametrize(
    ("call", "missing"),
    [
        (lambda f: churn_by_decile(f, ["x", "nope"]), "nope"),
        (lambda f: churn_by_decile(f, ["x"], label="churned"), "churned"),
        (lambda f: churn_by_month(f), "account_id"),
    ],
)
def test_a_missing_column_is_named(call, missing: str) -> None:
    frame = pd.DataFrame({"x": np.arange(10.0), LABEL: [0, 1] * 5})
    with pytest.raises(ValueError, match=f"'{missing}'"):
        call(frame)


def test_too_few_labelled_values_for_deciles() -> None:
    frame = pd.DataFrame({"x": [1.0] * 9 + [np.nan] * 5, LABEL: [0, 1] * 7})
    with pytest.raises(ValueError, match=r"'x' has 9 labelled values"):
        churn_by_decile(frame, ["x"])


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(labels=st.lists(st.sampled_from([0, 1]), min_size=10, max_size=200), low=st.floats(-5, 5))
def test_a_feature_that_separates_churners_puts_them_in_the_top_deciles(
    labels: list[int], low: float
) -> None:
    # the feature is a strictly increasing function of the label: every churner ranks above
    # every other row, so the deciles read 0 ... 0, at most one mixed decile, 1 ... 1
    frame = pd.DataFrame({"f": [low + 3.0 * y for y in labels], LABEL: labels})
    shares = churn_by_decile(frame, ["f"])["f"].to_numpy()

    mixed = [s for s in shares if 0.0 < s < 1.0]
    assert len(mixed) <= 1
    assert list(shares) == sorted(shares)
    assert (shares[-1] > 0) == (1 in labels)
    assert (shares[0] < 1) == (0 in labels)


@st.composite
def monthly_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Snapshots of up to five accounts on the first day of up to six months of 2024, each with
    a churn date drawn from a few (some shared by several snapshots of the account)."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from("abcde"), st.integers(1, 6)),
            min_size=1,
            max_size=30,
            unique=True,
        )
    )
    churns = [NA, "2023-12-20", "2024-01-09", "2024-03-31", "2024-06-01", "2024-09-01"]
    churn, label = st.sampled_from(churns), st.sampled_from([0, 1, NA])
    rows = [(a, f"2024-{m:02d}-01", draw(churn), draw(label)) for a, m in keys]
    return snapshots(rows)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(frame=monthly_frames())
def test_monthly_totals_add_up(frame: pd.DataFrame) -> None:
    table = churn_by_month(frame)
    months = pd.to_datetime(frame["as_of"]).dt.to_period("M")

    assert table.index.min() == months.min() and table.index.max() == months.max()
    assert len(table) == (months.max() - months.min()).n + 1
    assert table["customers"].sum() == len(frame)  # one snapshot per account and month
    churn_months = pd.to_datetime(frame["churn_date"]).dt.to_period("M")
    inside = frame[churn_months.between(months.min(), months.max())]
    assert table["churned"].sum() == len(inside[["account_id", "churn_date"]].drop_duplicates())
    rate = table["monthly_churn_rate"].dropna()
    assert (rate == table.loc[rate.index, "churned"] / table.loc[rate.index, "customers"]).all()
