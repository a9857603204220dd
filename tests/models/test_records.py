"""Records (plain dicts) checked strictly, as the API checks features a client sends, and
leniently, as it checks stored vectors."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from vitals.features.catalog import FeatureSet
from vitals.models.health_model import HealthModel
from vitals.models.records import RecordReader


def _with_minimums(features: FeatureSet, **minimums: float) -> FeatureSet:
    specs = tuple(replace(s, minimum=minimums.get(s.name, s.minimum)) for s in features.features)
    return replace(features, features=specs)


@pytest.fixture
def reader(fitted_model: HealthModel) -> RecordReader:
    features = _with_minimums(fitted_model.feature_set_, logins_30d=0.0, tickets_90d=0.0)
    return RecordReader.for_feature_set(features, fitted_model.router_)


@pytest.fixture
def record(fitted_model: HealthModel, snapshots: pd.DataFrame) -> dict:
    row = snapshots.iloc[0]
    keys = ["account_id", "as_of", *fitted_model.required_fields]
    return {k: (None if pd.isna(row[k]) else row[k]) for k in keys}


def test_the_reader_of_a_feature_set_is_the_models(
    fitted_model: HealthModel, reader: RecordReader
) -> None:
    assert reader.required == fitted_model.required_fields
    assert reader.layout.names == tuple(fitted_model.feature_names_)
    assert reader.layout.categorical == ("plan",)


def test_a_good_record_passes_strictly(reader: RecordReader, record: dict) -> None:
    assert reader.problems(record, strict=True) == []
    assert reader.problems({**record, "parent_id": "p-1"}, strict=True) == []  # an id column


def test_strict_checks_name_every_impossible_value_and_unknown_key(
    reader: RecordReader, record: dict
) -> None:
    bad = {
        **record,
        "logins_30d": -5,
        "tickets_90d": float("inf"),
        "tenure_days": -100.0,
        "login_30d": 3,
    }
    found = {(p.field, p.kind): p.message for p in reader.problems(bad, strict=True)}

    assert found == {
        ("logins_30d", "greater_than_equal"): "Input should be greater than or equal to 0",
        ("tickets_90d", "finite_number"): "Input should be a finite number",
        ("tenure_days", "greater_than_equal"): "Input should be greater than or equal to 0",
        ("login_30d", "extra_forbidden"): (
            "Extra inputs are not permitted: the model does not read this feature"
        ),
    }


def test_features_without_a_minimum_may_be_negative(reader: RecordReader, record: dict) -> None:
    assert reader.problems({**record, "nps": -3.0}, strict=True) == []  # no minimum declared


def test_lenient_checks_ignore_values_and_extra_keys(reader: RecordReader, record: dict) -> None:
    # a stored vector: computed by the pipeline, perhaps for an older model
    stored = {**record, "logins_30d": -5, "retired_feature": 1.0}
    assert reader.problems(stored) == []


def test_type_problems_are_not_reported_twice(reader: RecordReader, record: dict) -> None:
    found = [
        (p.field, p.kind) for p in reader.problems({**record, "logins_30d": "-5"}, strict=True)
    ]
    assert found == [("logins_30d", "float_type")]


def test_negative_tenure_is_refused_even_without_declared_minimums(
    fitted_model: HealthModel, record: dict
) -> None:
    plain = RecordReader.for_feature_set(fitted_model.feature_set_, fitted_model.router_)
    found = [(p.field, p.kind) for p in plain.problems({**record, "tenure_days": -1}, strict=True)]
    assert found == [("tenure_days", "greater_than_equal")]
