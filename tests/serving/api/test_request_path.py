"""The request path (``HealthModel.explain_records``) gives the model's own answers, from plain
dicts, one row or many."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vitals.features.build import LABEL_COLUMNS, Snapshots
from vitals.models.health_model import HealthModel


@pytest.fixture(scope="module")
def frame(snapshots: Snapshots) -> pd.DataFrame:
    """The last date's snapshots (accounts of every profile)."""
    rows = snapshots.to_pandas()
    return rows[rows["as_of"] == rows["as_of"].max()].reset_index(drop=True)


def as_dicts(frame: pd.DataFrame) -> list[dict]:
    records = frame.drop(columns=["as_of", *LABEL_COLUMNS]).to_dict("records")
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in records
    ]


def test_scores_and_reasons_equal_the_models_explanation(
    model: HealthModel, frame: pd.DataFrame
) -> None:
    rows = as_dicts(frame)
    expected = model.explain(frame, top_k=5)
    scored = model.explain_records(rows, 5)
    scores = expected.scores
    assert len(set(scores["profile"])) > 1  # several profiles, one request
    np.testing.assert_array_equal(
        [s.churn_probability for s in scored], scores["churn_probability"]
    )
    np.testing.assert_array_equal([s.band for s in scored], scores["band"])
    np.testing.assert_array_equal([s.profile for s in scored], scores["profile"])
    np.testing.assert_allclose(
        [s.baseline_score for s in scored], scores["baseline_score"], rtol=0, atol=1e-9
    )
    mine = pd.DataFrame(
        [
            {"account_id": frame["account_id"][i], **r}
            for i, s in enumerate(scored)
            for r in s.reasons
        ]
    )
    theirs = expected.reasons
    assert list(mine["feature"]) == list(theirs["feature"])
    assert list(mine["rank"]) == list(theirs["rank"])
    assert list(mine["sentence"]) == list(theirs["sentence"])
    np.testing.assert_allclose(mine["health_points"], theirs["health_points"], rtol=0, atol=1e-9)


def test_one_row_at_a_time_equals_the_whole_batch(model: HealthModel, frame: pd.DataFrame) -> None:
    rows = as_dicts(frame.head(40))
    together = model.explain_records(rows, 3)
    one_by_one = [model.explain_records([r], 3)[0] for r in rows]
    few = model.explain_records(rows[:5], 3)
    for a, b in zip(together, one_by_one, strict=True):
        assert a.churn_probability == b.churn_probability and a.band == b.band
        assert [r["feature"] for r in a.reasons] == [r["feature"] for r in b.reasons]
        np.testing.assert_allclose(
            [r["health_points"] for r in a.reasons],
            [r["health_points"] for r in b.reasons],
            atol=1e-9,
        )
    assert [s.health_score for s in few] == [s.health_score for s in one_by_one[:5]]


def test_reasons_sum_to_the_score_above_the_baseline_over_all_features(
    model: HealthModel, frame: pd.DataFrame
) -> None:
    predicted = model.predict(frame.head(5))
    records = model.explain_records(as_dicts(frame.head(5)), len(model.feature_names_))
    for scored, (_, row) in zip(records, predicted.iterrows(), strict=True):
        total = sum(r["health_points"] for r in scored.reasons)
        assert total == pytest.approx(scored.health_score - scored.baseline_score, abs=1e-6)
        assert scored.churn_probability == pytest.approx(row["churn_probability"], abs=1e-12)
        assert scored.health_score == pytest.approx(row["health_score"], abs=1e-9)
        for got, expected in (
            (scored.risk[90], row["risk_90d"]),
            (scored.renewal_risk, row["renewal_risk"]),
        ):
            assert got == (None if np.isnan(expected) else pytest.approx(expected, abs=1e-12))


def test_problems_name_missing_and_mistyped_fields(model: HealthModel, frame: pd.DataFrame) -> None:
    row = as_dicts(frame.head(1))[0]
    assert model.check_record(row) == []
    numeric = next(n for n in model.feature_names_ if model.catalog_[n].kind == "numeric")
    categorical = next(n for n in model.feature_names_ if model.catalog_[n].kind == "categorical")
    broken = {**row, numeric: "12", categorical: 3.0}
    del broken["segment"]
    found = {(p.field, p.kind) for p in model.check_record(broken)}
    assert found == {("segment", "missing"), (numeric, "float_type"), (categorical, "string_type")}
    assert [p.field for p in model.check_record({**row, "tenure_days": None})] == ["tenure_days"]
    assert model.explain_records([], 5) == []
