"""Scoring on Spark: the model applied per partition, roll-ups per date, results collected once.

The snapshots (built by the Spark feature engine) become a Spark DataFrame partitioned by account;
``mapInPandas`` scores and explains each partition with
:func:`vitals.serving.batch.frames.score_accounts` and ``applyInPandas`` rolls each date up with
:func:`vitals.serving.batch.frames.roll_up_scores`, so the numbers are those of the DuckDB path.
The model travels to the executors as the files of its saved directory (LightGBM text and JSON,
never a pickle) and is loaded once per Python worker. The results are collected as Arrow and
written to the store in bulk by the caller.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from vitals.models.health_model import HealthModel
from vitals.models.scorecard import Scorecards
from vitals.serving.batch.frames import ROLLUP_SCHEMA, SCORE_SCHEMA, roll_up_scores, score_accounts

ModelFiles = dict[str, bytes]
_LOADED: dict[str, HealthModel] = {}


def model_files(model: HealthModel) -> ModelFiles:
    """The files of the model's saved directory, by relative path."""
    with tempfile.TemporaryDirectory(prefix="vitals-model-") as tmp:
        directory = model.save(Path(tmp) / "model")
        return {
            p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }


def model_from_files(files: ModelFiles) -> HealthModel:
    """Rebuild a model from :func:`model_files`, once per process (cached by content)."""
    digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(files.items()))).hexdigest()
    if digest not in _LOADED:
        with tempfile.TemporaryDirectory(prefix="vitals-model-") as tmp:
            for name, content in files.items():
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            _LOADED[digest] = HealthModel.load(tmp)
    return _LOADED[digest]


def use_this_python() -> None:
    """Make Spark's Python workers run this interpreter, which has the project installed.

    Spark reads ``PYSPARK_PYTHON`` when its context starts (default ``python3``), so call this
    before the first session of the process; an explicit setting is kept.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def score_on_spark(
    snapshots: pa.Table,
    model: HealthModel,
    model_version: str,
    tree: pd.DataFrame,
    *,
    top_k: int = 5,
    master: str = "local[2]",
    partitions: int | None = None,
    scorecards: Scorecards | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score and roll up snapshots of any number of dates on Spark.

    Args:
        snapshots: snapshot table (``vitals.features.build.Snapshots.table``).
        model: the fitted model.
        model_version: recorded with every row.
        tree: ``account_id, parent_id`` of every account.
        top_k: reasons kept per account.
        master: Spark master URL.
        partitions: partitions of the scored rows (default: Spark's default parallelism).
        scorecards: scored beside the model (see :func:`score_accounts`).

    Returns:
        (scores, roll-ups) as pandas frames with the columns of ``SCORE_SCHEMA`` and
        ``ROLLUP_SCHEMA``.
    """
    from vitals.features.engines import spark_session

    use_this_python()
    spark = spark_session(master)
    files = model_files(model)
    frame = spark.createDataFrame(snapshots)
    count = partitions or spark.sparkContext.defaultParallelism
    scored = (
        frame.repartition(count, "account_id")
        .mapInPandas(_scorer(files, model_version, top_k, scorecards), schema=_ddl(SCORE_SCHEMA))
        .cache()
    )
    try:
        rollups = scored.groupBy("as_of").applyInPandas(
            _roller(files, tree), schema=_ddl(ROLLUP_SCHEMA)
        )
        scores_table = scored.toArrow()
        rollups_table = rollups.toArrow()
    finally:
        scored.unpersist()
    return _to_pandas(scores_table, SCORE_SCHEMA), _to_pandas(rollups_table, ROLLUP_SCHEMA)


def _scorer(
    files: ModelFiles, model_version: str, top_k: int, scorecards: Scorecards | None
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = model_from_files(files)
        for batch in batches:
            if len(batch):
                yield _plain(score_accounts(model, batch, model_version, top_k, scorecards))

    return score


def _roller(files: ModelFiles, tree: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def roll(scored: pd.DataFrame) -> pd.DataFrame:
        return _plain(roll_up_scores(model_from_files(files), tree, scored))

    return roll


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas 3 string columns as objects: Spark's Arrow writer rejects their chunked arrays."""
    strings = [c for c, t in frame.dtypes.items() if isinstance(t, pd.StringDtype)]
    return frame.astype(dict.fromkeys(strings, object)) if strings else frame


def _ddl(schema: dict[str, str]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in schema.items())


def _to_pandas(table: pa.Table, schema: dict[str, str]) -> pd.DataFrame:
    frame = table.to_pandas()
    for name, kind in schema.items():
        if kind == "string":
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame[list(schema)]
