"""A backfill on Spark stores the same scores, reasons and roll-ups as one on DuckDB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from compare import assert_close_rows
from sqlalchemy import select

from vitals.serving.batch import RunOptions, backfill
from vitals.serving.store import HealthStore, ParentHealth
from vitals.serving.store.schema import ROLLUP_COLUMNS, SCORE_COLUMNS, HealthScore

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def stored(url: str, table: type, columns: tuple[str, ...]) -> pd.DataFrame:
    store = HealthStore.open(url, migrate=False)
    try:
        with store.session() as session:
            rows = session.execute(select(*(getattr(table, c) for c in columns))).all()
    finally:
        store.close()
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in ("reasons", "pulling_down"):
        if column in frame:  # compare JSON as text, like the scorer wrote it
            frame[column] = frame[column].map(json.dumps)
    return frame


def test_spark_and_duckdb_backfills_store_the_same_history(
    sample_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (scripts/test.sh installs it)")
    pytest.importorskip("pyspark")
    urls = {}
    for engine in ("duckdb", "spark"):
        urls[engine] = f"sqlite:///{tmp_path}/{engine}.db"
        options = RunOptions(model=str(model_dir), engine=engine, database_url=urls[engine])
        summary = backfill(str(sample_dir), 45, "14d", options)
        assert summary.engine == engine and len(summary.dates) == 4
    duck = stored(urls["duckdb"], HealthScore, SCORE_COLUMNS)
    spark = stored(urls["spark"], HealthScore, SCORE_COLUMNS)
    assert len(duck) > 300
    assert_close_rows(duck, spark, ["as_of", "account_id"])
    duck_rollups = stored(urls["duckdb"], ParentHealth, ROLLUP_COLUMNS)
    assert set(duck_rollups["weighting"]) == {"count", "contract_value"}
    assert_close_rows(duck_rollups, stored(urls["spark"], ParentHealth, ROLLUP_COLUMNS),
                      ["as_of", "weighting", "parent_id"])  # fmt: skip
