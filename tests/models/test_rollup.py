"""Roll-ups checked by hand on a depth-3 hierarchy.

root (no usage)
+-- mid (own usage: average, cv 100)
|   +-- a  good,    p 0.05, cv 200
|   +-- b  poor,    p 0.60, cv 100
|   +-- sub (no usage)
|       +-- c  average, p 0.20, cv 300
|       +-- d  poor,    p 0.50, cv 0
+-- e  good, p 0.10, cv 400
+-- f  (leaf without a score: churned)
"""

import numpy as np
import pandas as pd
import pytest

from vitals.models.frames import InputError
from vitals.models.rollup import roll_up

TREE = pd.DataFrame(
    {
        "account_id": ["root", "mid", "a", "b", "sub", "c", "d", "e", "f"],
        "parent_id": [None, "root", "mid", "mid", "mid", "sub", "sub", "root", "root"],
    }
)
SCORES = pd.DataFrame(
    {
        "account_id": ["mid", "a", "b", "c", "d", "e"],
        "churn_probability": [0.30, 0.05, 0.60, 0.20, 0.50, 0.10],
        "health_score": [70.0, 95.0, 40.0, 80.0, 50.0, 90.0],
        "band": ["average", "good", "poor", "average", "poor", "good"],
        "contract_value": [100.0, 200.0, 100.0, 300.0, 0.0, 400.0],
    }
)
REASONS = pd.DataFrame(
    {
        "account_id": ["a", "b", "b", "c", "e"],
        "feature": ["logins", "logins", "tickets", "tickets", "logins"],
        "label": ["Logins", "Logins", "Tickets", "Tickets", "Logins"],
        "health_points": [4.0, -10.0, -6.0, -2.0, 3.0],
    }
)


def _row(frame: pd.DataFrame, account: str) -> pd.Series:
    return frame.set_index("account_id").loc[account]


def test_by_count_at_every_depth() -> None:
    parents = roll_up(TREE, SCORES).parents
    assert set(parents["account_id"]) == {"root", "mid", "sub"}
    sub, mid, root = (_row(parents, a) for a in ("sub", "mid", "root"))
    # sub: c average, d poor
    assert (sub["depth"], sub["n_accounts"], sub["own_usage"]) == (2, 2, False)
    assert (sub["share_good"], sub["share_average"], sub["share_poor"]) == (0.0, 0.5, 0.5)
    assert sub["health"] == pytest.approx(25.0)
    # mid: itself (average) + a good + b poor + c average + d poor
    assert (mid["n_accounts"], mid["own_usage"]) == (5, True)
    assert mid["share_good"] == pytest.approx(1 / 5)
    assert mid["share_average"] == pytest.approx(2 / 5)
    assert mid["share_poor"] == pytest.approx(2 / 5)
    assert mid["health"] == pytest.approx(100 * (1 + 2 * 0.5) / 5)
    # root: mid's five + e good
    assert root["n_accounts"] == 6
    assert root["share_good"] == pytest.approx(2 / 6)
    assert root["health"] == pytest.approx(100 * (2 + 2 * 0.5) / 6)
    assert root["revenue_at_risk"] == pytest.approx(
        0.3 * 100 + 0.05 * 200 + 0.6 * 100 + 0.2 * 300 + 0.1 * 400
    )
    assert root["contract_value"] == pytest.approx(1100.0)


def test_by_contract_value() -> None:
    parents = roll_up(TREE, SCORES, weighting="contract_value").parents
    mid, root = _row(parents, "mid"), _row(parents, "root")
    # mid: weights mid 100 avg, a 200 good, b 100 poor, c 300 avg, d 0 poor -> total 700
    assert mid["weight"] == pytest.approx(700.0)
    assert mid["share_good"] == pytest.approx(200 / 700)
    assert mid["share_average"] == pytest.approx(400 / 700)
    assert mid["share_poor"] == pytest.approx(100 / 700)
    assert mid["health"] == pytest.approx(100 * (200 + 0.5 * 400) / 700)
    assert root["health"] == pytest.approx(100 * (600 + 0.5 * 400) / 1100)


def test_custom_band_weights() -> None:
    parents = roll_up(TREE, SCORES, band_weights={"good": 1.0, "average": 0.8, "poor": 0.2}).parents
    assert _row(parents, "sub")["health"] == pytest.approx(100 * (0.8 + 0.2) / 2)


def test_children_pulling_down_add_up_to_the_gap() -> None:
    result = roll_up(TREE, SCORES, top_children=10)
    mid = result.pulling_down[result.pulling_down["parent_id"] == "mid"]
    # losses: b poor 100/5 = 20, sub (c 50 + d 100)/5 = 30, mid itself 50/5 = 10, a none
    assert list(mid["child_id"]) == ["sub", "b", "mid"]
    np.testing.assert_allclose(mid["health_points_lost"], [30.0, 20.0, 10.0])
    np.testing.assert_allclose(mid["child_health"], [25.0, 0.0, 50.0])
    health = _row(result.parents, "mid")["health"]
    assert mid["health_points_lost"].sum() == pytest.approx(100 - health)
    top = roll_up(TREE, SCORES, top_children=1).pulling_down
    assert list(top[top["parent_id"] == "root"]["child_id"]) == ["mid"]


def test_reasons_are_weighted_like_the_shares() -> None:
    result = roll_up(TREE, SCORES, reasons=REASONS)
    mid = result.reasons[result.reasons["parent_id"] == "mid"].set_index("measure")
    assert mid.loc["logins", "health_points"] == pytest.approx((4.0 - 10.0) / 5)
    assert mid.loc["tickets", "health_points"] == pytest.approx((-6.0 - 2.0) / 5)
    assert list(mid.index) == ["tickets", "logins"]  # larger first
    by_value = roll_up(TREE, SCORES, weighting="contract_value", reasons=REASONS).reasons
    root = by_value[by_value["parent_id"] == "root"].set_index("measure")
    assert root.loc["logins", "health_points"] == pytest.approx(
        (4 * 200 - 10 * 100 + 3 * 400) / 1100
    )


def test_cycle_is_reported_with_its_accounts() -> None:
    tree = pd.DataFrame({"account_id": ["x", "y", "z", "w"], "parent_id": [None, "z", "y", "y"]})
    with pytest.raises(InputError, match=r"cycle.*'y' -> 'z' -> 'y'"):
        roll_up(tree, SCORES.iloc[:0])


def test_unknown_parent_and_unknown_account() -> None:
    tree = pd.DataFrame({"account_id": ["x", "y"], "parent_id": [None, "nobody"]})
    with pytest.raises(InputError, match=r"account 'y': parent_id 'nobody' is not an account"):
        roll_up(tree, SCORES.iloc[:0])
    with pytest.raises(InputError, match=r"scored account 'zz' is not in the tree"):
        roll_up(TREE, pd.concat([SCORES, SCORES.iloc[[0]].assign(account_id="zz")]))


def test_bad_band_and_contract_value() -> None:
    with pytest.raises(InputError, match=r"account 'a': band 'great'"):
        roll_up(
            TREE, SCORES.assign(band=SCORES["band"].where(SCORES["account_id"] != "a", "great"))
        )
    missing_value = SCORES.assign(
        contract_value=SCORES["contract_value"].where(SCORES["account_id"] != "c")
    )
    with pytest.raises(InputError, match=r"account 'c': column 'contract_value'"):
        roll_up(TREE, missing_value, weighting="contract_value")
