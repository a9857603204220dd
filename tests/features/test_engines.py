"""The same feature definitions give the same snapshots on DuckDB and on Spark."""

from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pytest

from vitals.features.build import build_features
from vitals.features.catalog import Vocabulary
from vitals.features.loader import load_dataset
from vitals.features.simulate import simulate, write_dataset

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (scripts/test.sh installs it)")
    pytest.importorskip("pyspark")
    root = tmp_path_factory.mktemp("engines")
    write_dataset(simulate(accounts=120, months=12, seed=5), root, "parquet")
    return root


def test_duckdb_and_spark_agree(data_dir):
    dates = [date(2026, 1, 1), date(2026, 3, 1), date(2026, 6, 1)]
    keys = Vocabulary(("login", "export"), ("reports", "api"), other_features=True)
    duck = build_features(load_dataset(data_dir), dates, vocabulary=keys).to_pandas()
    spark = build_features(
        load_dataset(data_dir), dates, vocabulary=keys, engine="spark"
    ).to_pandas()
    assert len(duck) > 100
    assert list(duck.columns) == list(spark.columns)
    assert duck[["account_id", "as_of"]].equals(spark[["account_id", "as_of"]])
    for column in duck.columns:
        left, right = duck[column], spark[column]
        if left.dtype.kind == "f":
            assert np.allclose(left, right, rtol=1e-9, atol=1e-12, equal_nan=True), column
        else:
            assert (
                left.astype(object).where(left.notna(), None).tolist()
                == right.astype(object).where(right.notna(), None).tolist()
            ), column
