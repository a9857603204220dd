"""Property tests over the data contract: any contract-valid data directory validates, builds,
keeps its features point-in-time, and gets the churn labels that a brute-force reading of the
contract gives (``contract_strategies`` draws the data and holds that oracle).

Runs are deterministic (``derandomize=True``, no example database), so CI sees the same examples
every time. The example counts find a label bug like the one fixed in ``label_steps`` (an
open-ended line followed by another line of the same account overflowed INT32) in the first
examples; the whole file runs in well under a minute on two cores without Spark.

Each test ``note``s the drawn case: the schemathesis pytest plugin blanks the arguments of
Hypothesis's "Failing test case" block (``-p no:schemathesis`` brings them back).
"""

from __future__ import annotations

import importlib.util
import json
import pprint
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from contract_strategies import REGRESSIONS, Case, cases, expected_snapshots
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from vitals.features.build import LABEL_COLUMNS, build_features, data_end_day
from vitals.features.dates import from_day
from vitals.features.loader import Dataset, load_dataset
from vitals.features.validate import load_validated

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
ID_COLUMNS = ["account_id", "as_of", "parent_id"]


def _show(case: Case) -> None:
    note(f"case = {pprint.pformat(case, width=100)}")


def _validated(case: Case, root: Path) -> Dataset:
    """Write the case; validation must pass; keep the validated load, as the pipeline does."""
    case.write(root)
    report, dataset = load_validated(root)
    assert report.ok, json.dumps(report.to_dict(), default=str, indent=1)
    assert dataset is not None
    return dataset


def _build(dataset: Dataset, case: Case, dates: list[date], engine: str = "duckdb") -> pa.Table:
    """The snapshot table at ``dates`` with the case's horizon and grace; closes the dataset."""
    try:
        snapshots = build_features(
            dataset, dates, horizon_days=case.horizon, grace_days=case.grace, engine=engine
        )
    finally:
        dataset.con.close()
    return snapshots.table


def _features(table: pa.Table) -> pa.Table:
    """The identifier and feature columns (labels dropped)."""
    return table.select([c for c in table.column_names if c not in LABEL_COLUMNS])


def _labels(table: pa.Table) -> dict[tuple[str, date], tuple[int | None, date | None]]:
    """(account, as_of) -> (churned_within_horizon, churn_date)."""
    rows = table.select(["account_id", "as_of", *LABEL_COLUMNS]).to_pylist()
    return {
        (r["account_id"], r["as_of"]): (r["churned_within_horizon"], r["churn_date"]) for r in rows
    }


def _assert_same_tables(left: pa.Table, right: pa.Table) -> None:
    """Same columns, rows and values (floats to 1e-12 relative, nulls equal to nulls)."""
    assert left.column_names == right.column_names
    assert left.select(["account_id", "as_of"]).to_pylist() == (
        right.select(["account_id", "as_of"]).to_pylist()
    )
    for name in left.column_names:
        a, b = left[name], right[name]
        if pa.types.is_floating(a.type):
            x = a.to_numpy(zero_copy_only=False).astype(float)
            y = b.to_numpy(zero_copy_only=False).astype(float)
            same = np.isclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True)
            assert same.all(), f"{name}: {x[~same]} != {y[~same]}"
        else:
            assert a.to_pylist() == b.to_pylist(), name


@settings(max_examples=75, **SETTINGS)
@given(case=cases())
@example(case=REGRESSIONS[0])
@example(case=REGRESSIONS[1])
def test_valid_data_validates_builds_and_gets_the_contracts_labels(case: Case) -> None:
    _show(case)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = _validated(case, Path(tmp) / "data")
        end = from_day(data_end_day(dataset))
        table = _build(dataset, case, case.as_of)
    # the data end is the day after the last day stamped (a later line end is a scheduled one)
    last = end - timedelta(days=1)
    assert last in case.stamp_days()
    assert max(case.stamp_days(with_ends=False)) <= last
    assert table.column_names[:3] == ID_COLUMNS
    got, expected = _labels(table), expected_snapshots(case, end)
    pairs = {k: (got.get(k, "no row"), expected.get(k, "no row")) for k in got.keys() | expected}
    differ = {k: pair for k, pair in pairs.items() if pair[0] != pair[1]}
    assert not differ, f"(account, as_of): ((label, churn date) built, the oracle's): {differ}"


@settings(max_examples=30, **SETTINGS)
@given(case=cases(max_dates=2), data=st.data())
def test_removing_rows_stamped_at_or_after_as_of_changes_no_feature(case: Case, data) -> None:
    _show(case)
    as_of = data.draw(st.sampled_from(case.as_of), label="as_of")
    cut = case.cut(as_of)
    with tempfile.TemporaryDirectory() as tmp:
        full = _build(load_dataset(case.write(Path(tmp) / "full")), case, [as_of])
        # the cut may hold no event at all, which validation rejects: loaded without it
        before = _build(load_dataset(cut.write(Path(tmp) / "cut")), cut, [as_of])
    _assert_same_tables(_features(full), _features(before))


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (scripts/test.sh)")
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="needs pyspark")
@settings(max_examples=4, **SETTINGS)
@given(case=cases(max_accounts=4))
def test_spark_gives_the_same_snapshots_as_duckdb(case: Case) -> None:
    _show(case)
    with tempfile.TemporaryDirectory() as tmp:
        root = case.write(Path(tmp) / "data")
        duck = _build(load_dataset(root), case, case.as_of)
        spark = _build(load_dataset(root), case, case.as_of, engine="spark")
    _assert_same_tables(duck, spark)
