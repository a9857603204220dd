"""Behaviour of a whole training (no MLflow): pieces, report schema, leakage, determinism."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
from trainingdata import replaced_table, with_training

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.profiles import ProfileRouter
from vitals.training.assemble import profile_rules
from vitals.training.data import LABEL
from vitals.training.evaluate import BASELINES, MODEL, SCHEMA_VERSION
from vitals.training.metrics import METRICS
from vitals.training.pipeline import TrainingOutcome, figures, fit_and_evaluate


def fitted_state(outcome: TrainingOutcome) -> dict[str, object]:
    """Everything fitted before the test window is scored: trees and calibrators per profile."""
    return {
        name: (p.piece.booster.model_to_string(), p.piece.calibrator.to_dict())
        for name, p in outcome.model.profiles_.items()
    }


def test_every_routable_profile_has_a_piece(outcome: TrainingOutcome, settings: Settings) -> None:
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    profiles = outcome.model.profiles_
    assert list(profiles) == router.profile_names
    assert not profiles["smb"].piece.pooled  # low thresholds in the test settings
    pooled = [p for p in profiles.values() if p.piece.pooled]
    assert pooled, "the small profiles fall back to the pooled booster"
    trees = {p.piece.risk.booster.model_to_string() for p in pooled if p.piece.risk}
    assert trees == {outcome.boosters.pooled.booster.model_to_string()}
    for piece in (p.piece for p in profiles.values()):
        assert 0.0 < piece.base_rate < 1.0


def test_own_booster_continues_from_the_pooled_one(outcome: TrainingOutcome) -> None:
    own = outcome.model.profiles_["smb"].piece.risk.booster
    assert own.num_trees() > outcome.boosters.pooled.booster.num_trees()
    assert outcome.report["profiles"]["smb"]["init"] == "pooled"


def test_report_has_the_documented_schema(outcome: TrainingOutcome) -> None:
    report = json.loads(json.dumps(outcome.report, allow_nan=False))
    assert report["schema_version"] == SCHEMA_VERSION
    assert set(report["models"]) == {MODEL, *BASELINES}
    assert set(report["comparison"]) == set(BASELINES)
    test = report["test_window"]
    assert test == report["windows"]["test"]
    for result in report["models"].values():
        assert list(result["overall"]) == list(METRICS)
        assert result["overall"]["snapshots"] == test["snapshots"]
        assert result["overall"]["churners"] == test["churners"]
        assert sum(m["snapshots"] for m in result["profiles"].values()) == test["snapshots"]
    for facts in report["profiles"].values():
        assert facts["calibration"]["method"] in ("isotonic", "sigmoid")


def test_vitals_probabilities_are_the_model_predictions(outcome: TrainingOutcome) -> None:
    p = outcome.probabilities[MODEL]
    assert ((p >= 0) & (p <= 1)).all()
    again = outcome.model.predict(outcome.split.test)["churn_probability"].to_numpy()
    np.testing.assert_allclose(p, again)
    assert outcome.report["models"][MODEL]["overall"]["auc"] > 0.65


def test_the_test_window_is_not_seen_before_the_final_evaluation(
    outcome: TrainingOutcome, snapshots: Snapshots, settings: Settings, first_event: date | None
) -> None:
    frame = snapshots.table.to_pandas()
    start = outcome.split.windows["test"].start
    rows = (pd.to_datetime(frame["as_of"]) >= pd.Timestamp(start)).to_numpy()
    labelled = rows & frame[LABEL].notna().to_numpy()
    frame.loc[labelled, LABEL] = 1 - frame.loc[labelled, LABEL]
    rng = np.random.default_rng(0)
    for column in ("events_30d", "license_utilization_30d", "nps_avg_180d"):
        values = frame.loc[rows, column].to_numpy()
        frame.loc[rows, column] = rng.permutation(values)
    tampered = fit_and_evaluate(
        replaced_table(snapshots, frame), settings, history_start=first_event
    )
    assert fitted_state(tampered) == fitted_state(outcome)
    ours = outcome.report["models"][MODEL]["overall"]
    theirs = tampered.report["models"][MODEL]["overall"]
    assert theirs["churners"] != ours["churners"] and theirs["auc"] < ours["auc"]


def test_same_seed_gives_the_same_metrics(
    outcome: TrainingOutcome, snapshots: Snapshots, settings: Settings, first_event: date | None
) -> None:
    again = fit_and_evaluate(snapshots, settings, history_start=first_event)
    assert _rounded(again.report["models"]) == _rounded(outcome.report["models"])
    assert fitted_state(again) == fitted_state(outcome)


def test_scratch_profile_boosters_do_not_start_from_the_pooled_one(
    snapshots: Snapshots, settings: Settings, first_event: date | None, outcome: TrainingOutcome
) -> None:
    scratch = fit_and_evaluate(
        snapshots, with_training(settings, profile_init="scratch"), history_start=first_event
    )
    smb = scratch.model.profiles_["smb"].piece
    assert smb.risk is not None
    assert smb.risk.booster.num_trees() == scratch.report["profiles"]["smb"]["trees"]
    health = scratch.report["profiles"]["smb"]["survival"]["health_booster"]
    assert smb.booster.num_trees() == health["trees"]
    assert fitted_state(scratch)["default"] == fitted_state(outcome)["default"]


def test_figures_cover_every_profile(outcome: TrainingOutcome) -> None:
    drawn = figures(outcome)
    assert {
        "plots/roc.png",
        "plots/reliability.png",
        "plots/lift.png",
        "plots/score_bands.png",
    } <= set(drawn)
    tested = set(outcome.split.test["profile"])
    assert {f"plots/shap_{p}.png" for p in tested} <= set(drawn)


def _rounded(models: dict) -> dict:
    return {
        name: {k: None if v is None else round(v, 4) for k, v in result["overall"].items()}
        for name, result in models.items()
    }


def test_row_order_of_the_snapshots_does_not_matter(
    outcome: TrainingOutcome, snapshots: Snapshots, settings: Settings, first_event: date | None
) -> None:
    frame = snapshots.table.to_pandas()
    shuffled = frame.sample(frac=1.0, random_state=0)
    again = fit_and_evaluate(
        replaced_table(snapshots, shuffled), settings, history_start=first_event
    )
    assert fitted_state(again) == fitted_state(outcome)
    assert again.report["models"] == outcome.report["models"]
