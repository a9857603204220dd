"""Scorecard files (``vitals.config.scorecards``): every bad file names file, measure and line;
the built-in default is the training report's rules baseline and checks out against the catalog.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vitals.config.scorecards import (
    DEFAULT_CARD,
    ScorecardError,
    configured_scorecards,
    default_scorecard_path,
    load_scorecards,
)
from vitals.config.settings import Settings
from vitals.features.pipeline import catalog_preview
from vitals.training.baselines import RULE_WEIGHTS

CATALOG = catalog_preview()
FEATURES = [s.name for s in CATALOG]
CATEGORICAL = [s.name for s in CATALOG if s.kind == "categorical"]
PROFILES = ["onboarding", "enterprise", "mid_market", "smb", "default"]
MARK = "# <-"  # the line the error must name

GOOD = """\
name = "test card"

[[scorecards.default.measures]]
name = "Active days"
feature = "active_days_30d"
weight = 10
linear = { from = 1, to = 28 }

"""


def measure(body: str, profile: str = "default", name: str = "Bad one") -> str:
    return f'[[scorecards.{profile}.measures]]\nname = "{name}"\n{body}'


def marked_header(text: str) -> str:
    """The text with its first table header marked as the line the error must name."""
    return text.replace("]]\n", f"]]  {MARK}\n", 1)


OPEN = 'feature = "open_tickets"\n'
TICKETS = 'feature = "tickets_opened_30d"\nweight = 5\n'
LINEAR = "linear = {from = 2, to = 0}\n"
W1 = "weight = 1\n"

BAD = {
    "unknown feature": (
        measure(f'feature = "active_dayz_30d"  {MARK}\nweight = 5\n{LINEAR}'),
        "unknown feature 'active_dayz_30d' (did you mean active_days_30d",
    ),
    "categorical feature": (
        measure(f'feature = "segment"  {MARK}\nweight = 5\n{LINEAR}'),
        "categorical",
    ),
    "overlapping ranges": (
        measure(
            f"{TICKETS}ranges = [\n  {{to = 2, points = 100}},\n"
            f"  {{from = 1, to = 4, points = 50}},  {MARK}\n  {{from = 4, points = 0}},\n]\n"
        ),
        "overlaps range 1, which ends at 2",
    ),
    "unordered ranges": (
        measure(
            f"{TICKETS}ranges = [\n  {{from = 4, points = 0}},\n"
            f"  {{from = 1, to = 4, points = 50}},  {MARK}\n]\n"
        ),
        "out of order",
    ),
    "unordered ranges on one line": (
        measure(
            f"{TICKETS}ranges = [{{from = 2, points = 0}}, {{to = 2, points = 100}}]  {MARK}\n"
        ),
        "range 2 [-inf, 2) is out of order",
    ),
    "empty range": (
        measure(f"{TICKETS}ranges = [\n  {{from = 3, to = 3, points = 10}},  {MARK}\n]\n"),
        "empty or reversed",
    ),
    "points above 100": (
        measure(f"{TICKETS}ranges = [{{to = 1, points = 120}}]  {MARK}\n"),
        "outside 0-100",
    ),
    "zero weight": (measure(f"{OPEN}weight = 0  {MARK}\n{LINEAR}"), "weight 0 must be positive"),
    "negative weight": (
        measure(f"{OPEN}weight = -2.5  {MARK}\n{LINEAR}"),
        "weight -2.5 must be positive",
    ),
    "weight as text": (
        measure(f'{OPEN}weight = "ten"  {MARK}\n{LINEAR}'),
        "`weight` needs finite numbers",
    ),
    "no weight": (marked_header(measure(f"{OPEN}{LINEAR}")), "needs a `weight`"),
    "linear and ranges": (
        measure(f"{OPEN}{W1}{LINEAR}ranges = [{{to = 1, points = 100}}]  {MARK}\n"),
        "not both",
    ),
    "neither linear nor ranges": (marked_header(measure(f"{OPEN}{W1}")), "needs `linear"),
    "flat linear": (
        measure(f"{OPEN}{W1}linear = {{from = 2, to = 2}}  {MARK}\n"),
        "must differ",
    ),
    "missing points out of range": (
        measure(f"{OPEN}{W1}{LINEAR}missing = -1  {MARK}\n"),
        "points lie in 0-100",
    ),
    "misspelt key": (measure(f"{OPEN}wieght = 1  {MARK}\n{LINEAR}"), "unknown key 'wieght'"),
    "unknown profile": (
        marked_header(measure(f"{OPEN}{W1}{LINEAR}", "gold")),
        "unknown health profile 'gold'",
    ),
    "quoted profile": (
        measure(f"{OPEN}weight = -1  {MARK}\n{LINEAR}", '"mid_market"'),
        "must be positive",
    ),
    "repeated name": (
        measure(f"{OPEN}{W1}{LINEAR}", name="Active days").replace(
            'name = "Active days"', f'name = "Active days"  {MARK}'
        ),
        "share this name",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_file_names_the_file_the_measure_and_the_line(tmp_path: Path, case: str) -> None:
    body, problem = BAD[case]
    text = GOOD + body
    line = next(n for n, t in enumerate(text.splitlines(), start=1) if MARK in t)
    path = tmp_path / "cards.toml"
    path.write_text(text)
    with pytest.raises(ScorecardError) as caught:
        load_scorecards(path, features=FEATURES, categorical=CATEGORICAL, profiles=PROFILES)
    error = caught.value
    assert problem in str(error)
    assert (error.file, error.line) == (str(path), line), str(error)
    name = "Active days" if case == "repeated name" else "Bad one"
    assert error.measure == name
    assert str(error).startswith(f"{path}, line {line}, ")
    assert f"measure {name!r}" in str(error)


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(GOOD + "[[scorecards.default.measures]]\nweight = = 3\n")
    with pytest.raises(ScorecardError, match="not valid TOML") as caught:
        load_scorecards(path)
    assert (caught.value.file, caught.value.line) == (str(path), 10)


def test_a_missing_configured_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match="no such file") as caught:
        configured_scorecards(str(tmp_path / "nope.toml"))
    assert caught.value.file == str(tmp_path / "nope.toml")


def test_the_default_scorecard_is_the_rules_baseline_and_fits_the_catalog() -> None:
    cards = load_scorecards(features=FEATURES, categorical=CATEGORICAL, profiles=PROFILES)
    assert cards.name == "rules" and cards.dropped == ()
    assert list(cards.cards) == [DEFAULT_CARD]
    measures = cards.cards[DEFAULT_CARD].measures
    assert [(m.feature, m.weight / 100) for m in measures] == [(n, w) for n, w, _ in RULE_WEIGHTS]
    directions = {s.name: s.higher_is_better for s in CATALOG}
    for (name, _, healthier_up), m in zip(RULE_WEIGHTS, measures, strict=True):
        assert m.linear is not None and m.missing == 50
        assert (m.linear.end > m.linear.start) == healthier_up == directions[name], name
    assert default_scorecard_path().is_file()
    assert configured_scorecards(None).cards == cards.cards


def test_the_default_leaves_out_measures_the_data_lack() -> None:
    no_surveys = [n for n in FEATURES if n not in ("nps_avg_180d", "csat_survey_avg_90d")]
    cards = load_scorecards(features=no_surveys)
    assert cards.dropped == ("Average NPS", "Survey CSAT")
    assert cards.cards[DEFAULT_CARD].total_weight == 85
    with pytest.raises(ScorecardError, match="unknown feature 'nps_avg_180d'"):
        load_scorecards(default_scorecard_path(), features=no_surveys)  # a named file is strict


def test_vitals_toml_names_the_scorecard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vitals.toml"
    config.write_text('scorecard = "cards/mine.toml"\n')
    monkeypatch.setenv("VITALS_CONFIG", str(config))
    assert Settings().scorecard == "cards/mine.toml"
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "none.toml"))
    assert Settings().scorecard is None
