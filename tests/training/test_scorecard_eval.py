"""Scorecards in the evaluation report, and suggested weights (``vitals.training.scorecard_*``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from vitals.config.scorecards import (
    Linear,
    Measure,
    Scorecard,
    ScorecardSet,
    load_scorecards,
    parse_scorecards,
)
from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.training.data import PROFILE, labels
from vitals.training.errors import TrainingError
from vitals.training.evaluate import MODEL, summary_rows
from vitals.training.metrics import METRICS
from vitals.training.pipeline import TrainingOutcome, fit_and_evaluate
from vitals.training.scorecard_eval import (
    evaluate_scorecard,
    ranking_auc,
    scorecard_scores,
    training_scorecards,
)
from vitals.training.scorecard_weights import fit_weights, suggest_weights


def default_card(outcome: TrainingOutcome) -> ScorecardSet:
    return load_scorecards(features=list(outcome.split.train.columns))


def test_the_report_sets_every_scorecard_beside_the_model(outcome: TrainingOutcome) -> None:
    report = json.loads(json.dumps(outcome.report, allow_nan=False))
    entry = report["scorecards"]["rules"]
    overall, model = entry["overall"], report["models"][MODEL]["overall"]
    assert list(overall) == list(METRICS)
    assert (overall["snapshots"], overall["churners"]) == (model["snapshots"], model["churners"])
    assert 0.5 < overall["auc"] < 1 and overall["lift_top10"] > 1 and 0 < overall["brier"] < 0.25
    assert sum(m["snapshots"] for m in entry["profiles"].values()) == overall["snapshots"]
    assert entry["calibration"]["rows"] == outcome.split.windows["calibration"].snapshots
    assert entry["calibration"]["slope"] > 0  # a lower score means more churn
    assert entry["comparison"]["auc_delta"] == pytest.approx(model["auc"] - overall["auc"])
    assert entry["comparison"]["brier_delta"] == pytest.approx(model["brier"] - overall["brier"])
    rows = summary_rows(report)
    assert [r["model"] for r in rows][-1] == "card rules"
    assert rows[-1]["auc"] == overall["auc"]


def test_ranking_metrics_read_the_score_itself(outcome: TrainingOutcome) -> None:
    score = scorecard_scores(default_card(outcome), outcome.split.test)
    entry = outcome.report["scorecards"]["rules"]
    assert entry["overall"]["auc"] == pytest.approx(ranking_auc(labels(outcome.split.test), score))
    assert ((score >= 0) & (score <= 100)).all()


def test_only_rows_a_card_scores_count(outcome: TrainingOutcome) -> None:
    card = Scorecard("smb", (Measure("Active days", "active_days_30d", 1.0, linear=Linear(1, 28)),))
    own = ScorecardSet("smb only", {"smb": card})
    profiles = list(outcome.model.profiles_)
    entry = evaluate_scorecard(outcome.split, own, outcome.probabilities[MODEL], profiles)
    smb = (outcome.split.test[PROFILE] == "smb").to_numpy()
    assert entry["overall"]["snapshots"] == entry["comparison"]["snapshots"] == smb.sum()
    assert list(entry["profiles"]) == ["smb"]
    y = labels(outcome.split.test)[smb]
    days = outcome.split.test["active_days_30d"].to_numpy()[smb]
    assert entry["overall"]["auc"] == pytest.approx(ranking_auc(y, np.clip(days, 1, 28)))


def test_a_bad_scorecard_stops_training_before_any_fit(
    snapshots: Snapshots, settings: Settings, first_event: date | None, tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[scorecards.default.measures]]\nname = "Usage"\nfeature = "no_such_feature"\n'
        "weight = 1\nlinear = {from = 0, to = 1}\n"
    )
    bad = settings.model_copy(update={"scorecard": str(path)})
    with pytest.raises(TrainingError, match=rf"{path}, line 3, .*measure 'Usage': unknown feature"):
        fit_and_evaluate(snapshots, bad, history_start=first_event)


def test_a_scorecard_is_checked_against_what_the_model_will_read(
    snapshots: Snapshots, tmp_path: Path
) -> None:
    categorical = [s.name for s in snapshots.catalog if s.kind == "categorical"]
    dropped = {"nps_avg_180d": "constant"}  # as if no survey varied in the training window
    [default] = training_scorecards(None, snapshots.feature_names, dropped, categorical, ["smb"])
    read = {m.feature for card in default.cards.values() for m in card.measures}
    assert "nps_avg_180d" not in read and "active_days_30d" in read
    assert [m for m in default.dropped if "nps" in str(m).lower()]
    path = tmp_path / "own.toml"
    path.write_text(
        '[[scorecards.default.measures]]\nname = "NPS"\nfeature = "nps_avg_180d"\n'
        "weight = 1\nlinear = {from = 0, to = 10}\n"
    )
    with pytest.raises(TrainingError, match=rf"{path}, .*measure 'NPS': .*is constant in the"):
        training_scorecards(str(path), snapshots.feature_names, dropped, categorical, ["smb"])
    [own] = training_scorecards(str(path), snapshots.feature_names, {}, categorical, ["smb"])
    assert [m.feature for m in own.cards["default"].measures] == ["nps_avg_180d"]


def test_fit_weights_follows_the_signal_and_never_goes_backwards() -> None:
    rng = np.random.default_rng(4)
    points = rng.uniform(0, 100, size=(6000, 4))
    # churn rises as measure 0 (strongly) and 1 (weakly) fall; 2 is noise; 3 runs backwards
    margin = -5 + 0.04 * (100 - points[:, 0]) + 0.01 * (100 - points[:, 1]) + 0.02 * points[:, 3]
    y = rng.uniform(size=len(points)) < 1 / (1 + np.exp(-margin))
    weights = fit_weights(points, y, total=20.0)
    assert weights.sum() == pytest.approx(20.0)
    assert (weights >= 0).all()
    assert weights[0] > 2 * weights[1] > 0
    assert weights[2] < weights[1] and weights[3] == 0


def test_suggested_weights_rank_the_training_window_no_worse(outcome: TrainingOutcome) -> None:
    original = default_card(outcome)
    suggestion = suggest_weights(outcome.split, original)
    before, after = suggestion.auc["train"]
    assert after >= before
    (card,) = suggestion.cards
    assert card.rows == len(outcome.split.train)
    suggested = [new for _, _, _, new in card.measures]
    if card.note is None:
        assert sum(suggested) == pytest.approx(original.cards["default"].total_weight, abs=0.1)
        assert after > before
    assert all(w >= 0 for w in suggested)
    kept = suggestion.suggested.cards["default"].measures
    assert [m.weight for m in kept] == [w for w in suggested if w > 0]
    assert all(auc is not None for auc in suggestion.auc["test"])
    written = parse_scorecards(suggestion.suggested.to_toml("suggested"), "suggested.toml")
    assert written.cards == suggestion.suggested.cards
