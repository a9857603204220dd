"""Snapshot rows -> store rows: scores with reasons, and roll-ups that match a hand count."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from compare import assert_close_rows

from vitals.features.build import Snapshots
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.batch.frames import (
    ROLLUP_SCHEMA,
    SCORE_SCHEMA,
    reasons_long,
    records,
    roll_up_scores,
    score_accounts,
    score_and_reason,
)


@pytest.fixture(scope="module")
def last_date(sample_snapshots: Snapshots) -> pd.DataFrame:
    frame = sample_snapshots.to_pandas()
    return frame[frame["as_of"] == frame["as_of"].max()].reset_index(drop=True)


@pytest.fixture(scope="module")
def tree(sample_dir) -> pd.DataFrame:
    return load_dataset(sample_dir).con.execute("SELECT account_id, parent_id FROM accounts").df()


def test_scores_carry_probability_value_at_risk_and_ranked_reasons(
    health_model: HealthModel, last_date: pd.DataFrame
) -> None:
    scored = score_accounts(health_model, last_date, "v7", top_k=3)
    assert list(scored.columns) == list(SCORE_SCHEMA)
    assert len(scored) == len(last_date)
    assert (scored["model_version"] == "v7").all()
    assert isinstance(scored["as_of"].iloc[0], date)
    p = scored["churn_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    value = last_date["contract_value"].to_numpy()
    np.testing.assert_allclose(scored["revenue_at_risk"], p * value, equal_nan=True)
    expected = health_model.predict(last_date)
    for column in ("health_score", "churn_probability", "risk_30d", "risk_365d", "renewal_risk"):
        np.testing.assert_allclose(scored[column], expected[column], equal_nan=True)
    np.testing.assert_allclose(
        scored["renewal_revenue_at_risk"], scored["renewal_risk"] * value, equal_nan=True
    )
    np.testing.assert_array_equal(scored["band"], expected["band"].to_numpy())
    explained = health_model.explain(last_date, top_k=3).reasons
    for account, text in zip(scored["account_id"], scored["reasons"], strict=True):
        reasons = json.loads(text, parse_constant=pytest.fail)  # NaN/Infinity are not JSON
        assert [r["rank"] for r in reasons] == list(range(1, len(reasons) + 1))
        assert len(reasons) <= 3
        points = [abs(r["health_points"]) for r in reasons]
        assert points == sorted(points, reverse=True)
        mine = explained[explained["account_id"] == account]
        assert [r["feature"] for r in reasons] == mine["feature"].tolist()
    first = json.loads(scored["reasons"].iloc[0])[0]
    assert set(first) == {
        "rank", "measure", "feature", "label", "unit", "value", "previous_value", "exact_value",
        "exact_previous_value", "health_points", "sentence", "breakdown",
    }  # fmt: skip
    assert sum(e["health_points"] for e in first["breakdown"]) == pytest.approx(
        first["health_points"], abs=1e-9
    )


def test_the_long_reasons_are_those_the_json_reads_back(
    health_model: HealthModel, last_date: pd.DataFrame
) -> None:
    # shuffled, so that a reason given to the row in the frame's place would show
    shuffled = last_date.sample(frac=1.0, random_state=3).reset_index(drop=True)
    scored, long = score_and_reason(health_model, shuffled, "v7", top_k=3)
    read_back = reasons_long(scored)
    assert len(long) > len(scored)  # several reasons per account
    assert long["account_id"].tolist() == read_back["account_id"].tolist()
    assert long["measure"].tolist() == read_back["measure"].tolist()
    # the very same floats: roll-ups add them up to the last bit of a batch run's
    assert long["health_points"].tolist() == read_back["health_points"].tolist()


def test_roll_ups_match_a_hand_count_of_each_parents_subtree(
    health_model: HealthModel, last_date: pd.DataFrame, tree: pd.DataFrame
) -> None:
    scored = score_accounts(health_model, last_date, "v7")
    rolled = roll_up_scores(health_model, tree, scored)
    assert list(rolled.columns) == list(ROLLUP_SCHEMA)
    assert set(rolled["weighting"]) == {"count", "contract_value"}
    parent_of = dict(zip(tree["account_id"], tree["parent_id"], strict=True))
    band = dict(zip(scored["account_id"], scored["band"], strict=True))
    value = dict(zip(scored["account_id"], scored["contract_value"].fillna(0), strict=True))
    members: dict[str, list[str]] = {}
    for account in band:
        node = account if any(p == account for p in parent_of.values()) else parent_of[account]
        while isinstance(node, str):
            members.setdefault(node, []).append(account)
            node = parent_of[node]
    by_count = rolled[rolled["weighting"] == "count"].set_index("parent_id")
    assert set(by_count.index) == set(members)
    assert len(members) > 3
    for parent, accounts in members.items():
        row = by_count.loc[parent]
        assert row["n_accounts"] == len(accounts)
        poor = sum(band[a] == "poor" for a in accounts) / len(accounts)
        assert row["share_poor"] == pytest.approx(poor)
        children = {c["child_id"] for c in json.loads(row["pulling_down"])}
        assert all(parent_of[c] == parent or c == parent for c in children)
    by_value = rolled[rolled["weighting"] == "contract_value"].set_index("parent_id")
    for parent, accounts in members.items():
        total = sum(value[a] for a in accounts)
        good = sum(value[a] for a in accounts if band[a] == "good")
        assert by_value.loc[parent, "weight"] == pytest.approx(total)
        if total > 0:
            assert by_value.loc[parent, "share_good"] == pytest.approx(good / total)


def test_scoring_several_dates_at_once_equals_scoring_each_date(
    health_model: HealthModel, sample_snapshots: Snapshots, tree: pd.DataFrame
) -> None:
    frame = sample_snapshots.to_pandas()
    two = frame[frame["as_of"].isin(sorted(frame["as_of"].unique())[-2:])]
    two = two.sample(frac=1.0, random_state=0)  # accounts repeat, dates interleave
    together = score_accounts(health_model, two, "v")
    apart = pd.concat(
        [score_accounts(health_model, g, "v") for _, g in two.groupby("as_of", sort=False)]
    )
    assert_close_rows(together, apart, ["as_of", "account_id"])
    with pytest.raises(ValueError, match="per date"):
        roll_up_scores(health_model, tree, together)
    assert roll_up_scores(health_model, tree, score_accounts(health_model, two.iloc[:0], "v")).empty


def test_records_turn_missing_values_into_nulls() -> None:
    rows = records(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None], "c": [True, False]}))
    assert rows == [{"a": 1.0, "b": "x", "c": True}, {"a": None, "b": None, "c": False}]
    assert type(rows[0]["a"]) is float and type(rows[0]["c"]) is bool
