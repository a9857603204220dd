"""Scorecard points and scores, checked by hand on a few rows (``vitals.models.scorecard``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vitals.config.scorecards import (
    Linear,
    Measure,
    PointRange,
    Scorecard,
    ScorecardError,
    ScorecardSet,
    parse_scorecards,
)
from vitals.models.health_model import HealthModel
from vitals.models.scorecard import (
    BAND,
    CARD,
    POINTS,
    SCORE,
    Scorecards,
    measure_points,
    model_bands,
)
from vitals.models.scoring import Bands

NAN = math.nan
USAGE = Measure("Usage", "u", 3.0, linear=Linear(0.0, 10.0))
TICKETS = Measure(
    "Tickets",
    "t",
    1.0,
    ranges=(PointRange(None, 1.0, 100.0), PointRange(1.0, 4.0, 40.0), PointRange(5.0, None, 0.0)),
    missing=20.0,
)
RECENCY = Measure("Recency", "d", 2.0, linear=Linear(20.0, 0.0))  # fewer days is healthier
CARDS = ScorecardSet(
    "hand",
    {
        "default": Scorecard("default", (USAGE, TICKETS)),
        "smb": Scorecard("smb", (RECENCY,)),
    },
)


def test_linear_points_scale_clip_and_run_either_way() -> None:
    np.testing.assert_allclose(
        measure_points(USAGE, [0, 2.5, 5, 10, 12, -3, NAN]), [0, 25, 50, 100, 100, 0, 50]
    )
    np.testing.assert_allclose(measure_points(RECENCY, [0, 5, 20, 25, -1]), [100, 75, 0, 0, 100])


def test_range_points_at_the_edges_in_gaps_and_when_missing() -> None:
    values = [-5, 0.999, 1, 3.999, 4, 4.5, 5, 1e9, NAN]
    # [.., 1) -> 100; [1, 4) -> 40; [4, 5) is a gap -> missing (20); [5, ..) -> 0
    np.testing.assert_allclose(
        measure_points(TICKETS, values), [100, 100, 40, 40, 20, 20, 0, 0, 20]
    )


def test_scores_by_hand_with_the_card_of_each_profile() -> None:
    frame = pd.DataFrame(
        {
            "u": [5, 12, -3, NAN, 2.5, 1.0],
            "t": [0, 1, 4, 5, NAN, 9.0],
            "d": [NAN, NAN, NAN, NAN, NAN, 5.0],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    profiles = pd.Series(["enterprise", "enterprise", "mid", "mid", None, "smb"], index=frame.index)
    table = Scorecards(CARDS).score(frame, profiles)
    # (3 * usage points + 1 * ticket points) / 4, and smb: recency 5 days -> 75 points; a row
    # without a profile takes the default card
    expected = [(150 + 100) / 4, (300 + 40) / 4, (0 + 20) / 4, (150 + 0) / 4, (75 + 20) / 4, 75]
    np.testing.assert_allclose(table[SCORE].to_numpy(), expected)
    assert table.index.tolist() == frame.index.tolist()
    assert table[CARD].tolist() == ["default"] * 5 + ["smb"]
    first = table.loc[10, POINTS]
    assert first == [
        {"measure": "Usage", "feature": "u", "value": 5.0, "points": 50.0, "weight": 3.0,
         "contribution": 37.5},
        {"measure": "Tickets", "feature": "t", "value": 0.0, "points": 100.0, "weight": 1.0,
         "contribution": 25.0},
    ]  # fmt: skip
    assert table.loc[13, POINTS][0]["value"] is None
    assert table.loc[14, POINTS][1] == {
        "measure": "Tickets", "feature": "t", "value": None, "points": 20.0, "weight": 1.0,
        "contribution": 5.0,
    }  # fmt: skip
    json.dumps(table[POINTS].tolist(), allow_nan=False)


def test_contributions_add_up_to_the_score() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"u": rng.normal(5, 4, 50), "t": rng.integers(0, 7, 50).astype(float)})
    frame.loc[::7, "u"] = NAN
    table = Scorecards(CARDS).score(frame, ["enterprise"] * 50)
    sums = [sum(p["contribution"] for p in points) for points in table[POINTS]]
    np.testing.assert_allclose(sums, table[SCORE].to_numpy())
    assert ((table[SCORE] >= 0) & (table[SCORE] <= 100)).all()


def test_bands_use_the_thresholds_of_the_row_profile() -> None:
    frame = pd.DataFrame({"u": [10.0, 10.0, 0.0], "t": [0.0, 0.0, 9.0], "d": [30.0, 30.0, 30.0]})
    bands = {"enterprise": Bands(good=90, poor=30), "mid": Bands(good=99.5, poor=50)}
    table = Scorecards(CARDS).score(frame, ["enterprise", "mid", "smb"], bands)
    # 100 is good for enterprise and mid; smb scores 0 but has no thresholds: no band
    assert table[BAND].tolist() == ["good", "good", None]
    table = Scorecards(CARDS).score(frame.iloc[[2]], ["enterprise"], bands)
    assert table[BAND].tolist() == ["poor"]


def test_without_a_default_card_other_profiles_get_no_score() -> None:
    own = ScorecardSet("own", {"smb": Scorecard("smb", (RECENCY,))})
    table = Scorecards(own).score(pd.DataFrame({"d": [10.0, 10.0]}), ["smb", "enterprise"])
    np.testing.assert_allclose(table[SCORE].to_numpy(), [50.0, NAN])
    assert table[CARD].tolist() == ["smb", None]
    assert table[POINTS].tolist()[1] is None


def test_explain_off_gives_the_same_scores_without_points() -> None:
    frame = pd.DataFrame({"u": [1.0, 7.0], "t": [2.0, 0.0]})
    lean = Scorecards(CARDS).score(frame, ["x", "y"], explain=False)
    assert POINTS not in lean.columns
    full = Scorecards(CARDS).score(frame, ["x", "y"])
    np.testing.assert_allclose(lean[SCORE], full[SCORE])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="lack the feature 't'"):
        Scorecards(CARDS).score(pd.DataFrame({"u": [1.0]}), ["x"])
    with pytest.raises(ValueError, match="2 profiles for 1 rows"):
        Scorecards(CARDS).score(pd.DataFrame({"u": [1.0], "t": [1.0]}), ["x", "y"])
    bad = ScorecardSet("bad", {"default": Scorecard("default", (Measure("m", "u", 0.0),))})
    with pytest.raises(ScorecardError, match="measure 'm'"):
        Scorecards(bad)


def test_a_parsed_file_scores_like_the_same_cards_built_in_code() -> None:
    text = (
        '[[scorecards.default.measures]]\nname = "Usage"\nfeature = "u"\nweight = 3\n'
        "linear = {from = 0, to = 10}\n\n"
        '[[scorecards.default.measures]]\nname = "Tickets"\nfeature = "t"\nweight = 1\n'
        "missing = 20\nranges = [{to = 1, points = 100}, {from = 1, to = 4, points = 40},\n"
        "  {from = 5, points = 0}]\n"
    )
    parsed = parse_scorecards(text, "cards.toml", features=["u", "t"])
    assert parsed.cards["default"] == CARDS.cards["default"]
    again = parse_scorecards(parsed.to_toml("round trip"), "again.toml")
    assert again.cards == parsed.cards


def test_model_bands_are_the_fitted_profiles_thresholds(fitted_model: HealthModel) -> None:
    bands = model_bands(fitted_model)
    assert list(bands) == list(fitted_model.profiles_)
    assert all(isinstance(b, Bands) and b.poor <= b.good for b in bands.values())


def test_for_model_checks_the_file_against_the_model_and_scores_its_rows(
    fitted_model: HealthModel, snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "cards.toml"
    path.write_text(
        '[[scorecards.smb.measures]]\nfeature = "logins_30d"\nweight = 2\n'
        "linear = {from = 0, to = 40}\n\n"
        '[[scorecards.default.measures]]\nfeature = "nps"\nweight = 1\n'
        "ranges = [{to = 7, points = 0}, {from = 7, to = 9, points = 50},\n"
        "  {from = 9, points = 100}]\n"
    )
    cards = Scorecards.for_model(fitted_model, path)
    scored = fitted_model.predict(snapshots)
    table = cards.score(snapshots, scored["profile"], bands=model_bands(fitted_model))
    smb = (scored["profile"] == "smb").to_numpy()
    assert (table[CARD].to_numpy()[smb] == "smb").all() and (table[CARD][~smb] == "default").all()
    logins = snapshots["logins_30d"].to_numpy()[smb]
    np.testing.assert_allclose(table[SCORE].to_numpy()[smb], np.clip(logins * 2.5, 0, 100))
    enterprise = (scored["profile"] == "enterprise").to_numpy()
    expected = np.where(table[SCORE] >= 80, "good", np.where(table[SCORE] < 60, "poor", "average"))
    assert (table[BAND].to_numpy()[enterprise] == expected[enterprise]).all()
    path.write_text(path.read_text().replace('"nps"', '"plan"'))
    with pytest.raises(ScorecardError, match=r"line 7, .*'plan' is categorical"):
        Scorecards.for_model(fitted_model, path)
    with pytest.raises(ScorecardError, match="every measure's feature is missing from the data"):
        Scorecards.for_model(fitted_model)  # the built-in default reads none of these features


def test_full_points_score_100_whatever_the_weights_add_to() -> None:
    measures = tuple(
        Measure(f"M{i}", f"f{i}", weight, linear=Linear(0.0, 1.0))
        for i, weight in enumerate((30.8, 35.8, 3.0))
    )
    card = ScorecardSet("decimal", {"default": Scorecard("default", measures)})
    frame = pd.DataFrame({f"f{i}": [1.0, 0.0] for i in range(3)})
    scored = Scorecards(card).score(frame, [None, None])
    assert scored[SCORE].tolist() == [100.0, 0.0]  # never a hair over 100 (the API bounds it)
