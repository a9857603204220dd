"""A parent's health change split into its children's moves, checked by hand.

root (no usage)
+-- p1 (no usage)
|   +-- a  then good (cv 100), now poor (cv 100): its band moved
|   +-- b  then average (cv 100), now average (cv 300): only its weight moved
+-- c  then good (cv 200), now not scored: it left
+-- d  then not scored, now good (cv 100): it joined
"""

import pandas as pd
import pytest

from vitals.models.frames import InputError
from vitals.models.rollup import roll_up
from vitals.models.rollup_change import EFFECTS, parent_change

TREE = pd.DataFrame(
    {"account_id": ["root", "p1", "a", "b", "c", "d"], "parent_id": [None, "root", "p1", "p1",
                                                                     "root", "root"]}
)  # fmt: skip
THEN = pd.DataFrame(
    {
        "account_id": ["a", "b", "c"],
        "band": ["good", "average", "good"],
        "churn_probability": [0.1, 0.3, 0.1],
        "contract_value": [100.0, 100.0, 200.0],
    }
)
NOW = pd.DataFrame(
    {
        "account_id": ["a", "b", "d"],
        "band": ["poor", "average", "good"],
        "churn_probability": [0.7, 0.3, 0.1],
        "contract_value": [100.0, 300.0, 100.0],
    }
)


def _effects(weighting: str) -> pd.DataFrame:
    change = parent_change(TREE, THEN, NOW, "root", weighting=weighting)  # type: ignore[arg-type]
    return change.children.set_index("child_id")


def test_by_count_each_child_gets_its_own_move() -> None:
    change = parent_change(TREE, THEN, NOW, "root")
    assert change.health_then == pytest.approx(250 / 3)
    assert change.health_now == pytest.approx(50.0)
    effects = change.children.set_index("child_id")
    assert effects.loc["p1", "band_moved"] == pytest.approx(-100 / 3)  # a: good -> poor
    assert effects.loc["p1", "weight_moved"] == pytest.approx(0.0)
    assert effects.loc["c", "left"] == pytest.approx(-100 / 3)
    assert effects.loc["d", "joined"] == pytest.approx(100 / 3)
    assert effects["health_points"].sum() == pytest.approx(change.change, abs=1e-12)


def test_by_contract_value_weight_moves_show_as_such() -> None:
    effects = _effects("contract_value")
    assert effects.loc["p1", "band_moved"] == pytest.approx(-22.5)  # a: (0.25 + 0.2) / 2 x -100
    # a: (0.2 - 0.25) x 50 = -2.5; b: (0.6 - 0.25) x 50 = 17.5
    assert effects.loc["p1", "weight_moved"] == pytest.approx(15.0)
    assert effects.loc["c", "left"] == pytest.approx(-50.0)
    assert effects.loc["d", "joined"] == pytest.approx(20.0)
    assert effects["health_points"].sum() == pytest.approx(50.0 - 87.5, abs=1e-12)
    assert list(effects.index) == ["c", "d", "p1"]  # largest |effect| first


@pytest.mark.parametrize("weighting", ["count", "contract_value"])
def test_the_ends_equal_the_roll_up_at_both_dates(weighting: str) -> None:
    change = parent_change(TREE, THEN, NOW, "p1", weighting=weighting)  # type: ignore[arg-type]
    for scores, health in ((THEN, change.health_then), (NOW, change.health_now)):
        rolled = roll_up(TREE, scores, weighting=weighting).parents.set_index("account_id")  # type: ignore[arg-type]
        assert health == pytest.approx(rolled.loc["p1", "health"], abs=1e-12)
    effects = change.children
    assert (effects[list(EFFECTS)].sum(axis=1) == effects["health_points"]).all()
    assert effects["health_points"].sum() == pytest.approx(change.change, abs=1e-12)


def test_unknown_parent_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'nobody' is not in the tree"):
        parent_change(TREE, THEN, NOW, "nobody")
