"""Run plans: as-of dates within the data, and the model's declared features checked against it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from vitals.features.build import Snapshots
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.batch import DateOutOfRangeError, ModelDataMismatchError
from vitals.serving.batch.plan import (
    backfill_dates,
    check_model_fits_data,
    data_span,
    score_date,
    unseen_vocabulary,
)


@pytest.fixture(scope="module")
def dataset(sample_dir: Path):
    return load_dataset(sample_dir)


def test_dates_stay_within_the_data(dataset, sample_snapshots: Snapshots) -> None:
    first, last = data_span(dataset)
    assert last == sample_snapshots.to_pandas()["as_of"].max()  # the day after the last data
    assert score_date(dataset, None) == last
    assert score_date(dataset, first) == first
    for outside in (first - timedelta(days=1), last + timedelta(days=1)):
        with pytest.raises(DateOutOfRangeError, match=str(first)):
            score_date(dataset, outside)
    weekly = backfill_dates(dataset, 180, "7d")
    assert len(weekly) == 26 and weekly[-1] == last
    assert all(b - a == timedelta(days=7) for a, b in pairwise(weekly))
    assert backfill_dates(dataset, 10_000, "1mo")[0] >= first  # cut at the data start
    assert backfill_dates(dataset, 1, "7d") == [last]


def test_the_features_to_compute_are_the_models_declared_set(
    dataset, model_dir: Path, sample_snapshots: Snapshots
) -> None:
    model = HealthModel.load(model_dir)
    declared = model.feature_set_
    assert declared.vocabulary == sample_snapshots.vocabulary
    assert (declared.horizon_days, declared.grace_days) == (90, 30)
    assert declared.names == model.feature_names_
    check_model_fits_data(model, dataset)


def test_a_model_feature_these_data_cannot_produce_is_refused(dataset, model_dir: Path) -> None:
    model = HealthModel.load(model_dir)
    model.feature_names_[0] = "teleports_30d"
    with pytest.raises(ModelDataMismatchError, match="teleports_30d"):
        check_model_fits_data(model, dataset)


def test_a_window_without_days_is_refused(dataset) -> None:
    with pytest.raises(ValueError, match="--days"):
        backfill_dates(dataset, 0, "7d")
    with pytest.raises(ValueError, match="--every"):
        backfill_dates(dataset, 30, "0d")


def test_event_types_and_features_new_since_training_are_counted(dataset, model_dir: Path) -> None:
    model = HealthModel.load(model_dir)
    assert unseen_vocabulary(model, dataset) == {"event_type": 0, "feature": 0}
    known = model.feature_set_.vocabulary
    model.feature_set_ = replace(
        model.feature_set_,
        vocabulary=replace(known, event_types=known.event_types[:1], features=()),
    )
    assert unseen_vocabulary(model, dataset) == {
        "event_type": len(known.event_types) - 1,
        "feature": len(known.features),
    }
