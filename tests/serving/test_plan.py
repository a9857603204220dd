"""Run plans: as-of dates within the data, and the model's feature settings read or inferred."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from features.build import Snapshots
from features.loader import load_dataset
from models.health_model import HealthModel
from serving.batch import DateOutOfRangeError, ModelDataMismatchError
from serving.batch.plan import (
    backfill_dates,
    check_model_fits_data,
    data_span,
    feature_settings,
    score_date,
)
from vitals.config.settings import Settings


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


def test_feature_settings_come_from_metadata_or_from_the_feature_names(
    dataset, model_dir: Path, sample_snapshots: Snapshots
) -> None:
    model = HealthModel.load(model_dir)
    settings = Settings(grace_days=12)
    given = feature_settings(model, dataset, settings)
    assert given.key_features == sample_snapshots.key_features
    assert (given.horizon_days, given.grace_days) == (90, 30)
    for key in ("key_features", "grace_days"):
        model.metadata_.pop(key)
    inferred = feature_settings(model, dataset, settings)
    assert sorted(inferred.key_features) == sorted(sample_snapshots.key_features)
    assert inferred.grace_days == 12
    check_model_fits_data(model, dataset, inferred.key_features)


def test_a_model_reading_an_unknown_product_feature_is_refused(
    dataset, model_dir: Path, sample_snapshots: Snapshots
) -> None:
    model = HealthModel.load(model_dir)
    model.metadata_.pop("key_features")
    renamed = sample_snapshots.key_features[0]
    model.feature_names_[model.feature_names_.index(f"feature_{renamed}_per_user_30d")] = (
        "feature_teleport_per_user_30d"
    )
    with pytest.raises(ModelDataMismatchError, match="teleport"):
        feature_settings(model, dataset, Settings())
    with pytest.raises(ModelDataMismatchError, match="feature_teleport_per_user_30d"):
        check_model_fits_data(model, dataset, sample_snapshots.key_features)


def test_a_window_without_days_is_refused(dataset) -> None:
    with pytest.raises(ValueError, match="--days"):
        backfill_dates(dataset, 0, "7d")
    with pytest.raises(ValueError, match="--every"):
        backfill_dates(dataset, 30, "0d")
