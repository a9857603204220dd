"""``vitals score`` and ``vitals backfill``: data directory + model -> the health store.

Both follow the same steps. Arguments, the model, the store (reachable and writable) and the data
are checked before any feature is computed; then snapshots are built (DuckDB or Spark), scored and
explained, rolled up the hierarchy per date, staged in the store, and published in one transaction
(:class:`vitals.serving.store.HealthWriter`). Any failure or interruption before the publication
leaves the live history exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd

from vitals.config.settings import Settings, get_settings
from vitals.features.build import Snapshots, build_feature_set
from vitals.features.dates import parse_every
from vitals.features.engines import ENGINES
from vitals.features.loader import Dataset
from vitals.features.pipeline import load_valid_dataset
from vitals.models.frames import InputError
from vitals.models.playbook import configured_playbook
from vitals.models.scorecard import Scorecards
from vitals.serving.alerts.raise_alerts import raise_alerts
from vitals.serving.batch import plan
from vitals.serving.batch.errors import ScoringError
from vitals.serving.batch.frames import records, roll_up_scores, score_and_reason
from vitals.serving.batch.model_source import DEFAULT_ALIAS, LoadedModel, load_model
from vitals.serving.batch.summary import RunSummary, summarize
from vitals.serving.store import HealthStore, RawJSON
from vitals.serving.store.features_table import write_hierarchy, write_latest_features

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(step, done, total)``; steps: ``features``, ``scoring``, ``publishing``."""

FEATURE_CHUNK = 32  # snapshot dates built per feature query (bounds memory on long backfills)


@dataclass(frozen=True)
class RunOptions:
    """Options shared by ``score`` and ``backfill``.

    Attributes:
        model: ``--model``: an alias of ``vitals-health``, an MLflow URI or a model directory.
        engine: ``duckdb`` or ``spark``.
        spark_master: Spark master URL for ``engine="spark"``.
        database_url: the store (default: the settings' ``database_url``).
        top_k: reasons stored per account.
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).
    """

    model: str = DEFAULT_ALIAS
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    database_url: str | None = None
    top_k: int = 5
    settings: Settings | None = field(default=None, compare=False)


def score(
    data_dir: str,
    as_of: date | None = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Score every current customer as of one date and publish the scores to the store.

    Args:
        data_dir: the data directory.
        as_of: the date (default: the end of the data).
        options: model, engine, store, ...
        progress: progress callback.

    Returns:
        The run's summary.

    Raises:
        ValueError: a bad option.
        ScoringError: no such model, a model the data cannot feed, a date outside the data.
        vitals.features.pipeline.PipelineError: the data directory breaks the contract.
        vitals.serving.store.StoreError: the store is down or read-only (the history is unchanged).
    """
    with _Run(data_dir, options or RunOptions(), progress) as run:
        day = plan.score_date(run.dataset, as_of)
        summary = run.execute("score", [day])
        run.raise_alerts(day)
        return summary


def backfill(
    data_dir: str,
    days: int = 180,
    every: str = "7d",
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Recompute the health history of the last ``days`` days and replace it atomically.

    Every stored score and roll-up dated within the window is replaced by the new ones in one
    transaction, once all of them are computed; until then readers see the old history.

    Args:
        data_dir: the data directory.
        days: length of the window, ending at the end of the data.
        every: step between snapshot dates (``7d``, ``1mo``, ...).
        options: model, engine, store, ...
        progress: progress callback.

    Returns:
        The run's summary (of the window's last date).

    Raises:
        The same errors as :func:`score`.
    """
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    parse_every(every)
    with _Run(data_dir, options or RunOptions(), progress) as run:
        return run.execute("backfill", plan.backfill_dates(run.dataset, days, every))


Scored = tuple[date, pd.DataFrame, pd.DataFrame, pd.DataFrame]


class _Run:
    """One run's resources: the model, the store and the dataset, checked in that order."""

    def __init__(self, data_dir: str, options: RunOptions, progress: Progress | None) -> None:
        if options.engine not in ENGINES:
            raise ValueError(f"--engine {options.engine!r} is not one of {', '.join(ENGINES)}")
        if options.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {options.top_k}")
        self.options = options
        self.settings = options.settings or get_settings()
        self.progress = progress or _silent
        self.data_dir = data_dir
        self.store: HealthStore | None = None
        self.dataset: Dataset | None = None

    def __enter__(self) -> _Run:
        self.loaded: LoadedModel = load_model(self.options.model)
        self.store = HealthStore.open(self.options.database_url or self.settings.database_url)
        try:
            self.store.writer().check_writable()
            self.dataset = load_valid_dataset(self.data_dir)  # its connection draws no bars
            self.features = self.loaded.model.feature_set_
            plan.check_model_fits_data(self.loaded.model, self.dataset)
            # a bad playbook file stops the run before anything is written
            names = self.loaded.model.feature_names_
            self.playbook = configured_playbook(self.settings, features=names)
            self.scorecards = Scorecards.for_model(self.loaded.model, self.settings.scorecard)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.store is not None:
            self.store.close()
        if self.dataset is not None:
            self.dataset.con.close()

    def execute(self, kind: str, dates: list[date]) -> RunSummary:
        assert self.store is not None
        tree = self.dataset.account_tree()
        try:
            run_id = publish_scored(
                self.store, self.loaded, kind, self.options.engine, dates,
                self._scored(dates, tree), tree, self.progress,
            )  # fmt: skip
        except InputError as exc:
            raise ScoringError(f"the model cannot score these snapshots: {exc}") from exc
        with self.store.session() as session:
            summary = summarize(session, run_id)
        return replace(summary, unseen=plan.unseen_vocabulary(self.loaded.model, self.dataset))

    def raise_alerts(self, day: date) -> None:
        """Raise the alerts of the settings' rules on the scores of ``day`` (a failure is logged:
        the scores stay published)."""
        if not self.settings.alerts.rules:
            return
        assert self.store is not None
        try:
            raised = raise_alerts(
                self.store, self.settings.alerts, self.loaded.model, day, playbook=self.playbook
            )
        except Exception:
            logger.exception("raising the alerts of %s failed", day)
            return
        logger.info("%d alerts raised as of %s", len(raised), day)

    def _scored(self, dates: list[date], tree: pd.DataFrame) -> Iterator[Scored]:
        """(date, feature frame, scores, roll-ups) per date, in date order."""
        if self.options.engine == "spark":
            yield from self._scored_on_spark(dates, tree)
            return
        done = 0
        for chunk in _chunks(dates, FEATURE_CHUNK):
            self.progress("features", done, len(dates))
            snapshots = self._snapshots(chunk).to_pandas()
            _check_every_date(chunk, snapshots)
            self.progress("features", done + len(chunk), len(dates))
            for day, frame in snapshots.groupby("as_of", sort=True):
                self.progress("scoring", done, len(dates))
                scores, reasons = score_and_reason(self.loaded.model, frame, self.loaded.version,
                                                   self.options.top_k, self.scorecards)  # fmt: skip
                yield day, frame, scores, roll_up_scores(self.loaded.model, tree, scores, reasons)
                done += 1
                self.progress("scoring", done, len(dates))
                logger.info("scored %d accounts as of %s", len(scores), day)

    def _scored_on_spark(self, dates: list[date], tree: pd.DataFrame) -> Iterator[Scored]:
        from vitals.serving.batch.spark import score_on_spark, use_this_python

        use_this_python()  # before the feature engine starts Spark
        self.progress("features", 0, len(dates))
        snapshots = self._snapshots(dates)
        self.progress("features", len(dates), len(dates))
        self.progress("scoring", 0, len(dates))
        scores, rollups = score_on_spark(
            snapshots.table, self.loaded.model, self.loaded.version, tree,
            top_k=self.options.top_k, master=self.options.spark_master,
            scorecards=self.scorecards,
        )  # fmt: skip
        _check_every_date(dates, scores)
        by_date = dict(iter(rollups.groupby("as_of", sort=True)))
        features = dict(iter(snapshots.to_pandas().groupby("as_of", sort=True)))
        for done, (day, frame) in enumerate(scores.groupby("as_of", sort=True), start=1):
            yield day, features[day], frame, by_date.get(day, rollups.iloc[0:0])
            self.progress("scoring", done, len(dates))

    def _snapshots(self, dates: list[date]) -> Snapshots:
        return build_feature_set(
            self.dataset,
            self.features,
            dates,
            engine=self.options.engine,
            spark_master=self.options.spark_master,
        )


def publish_scored(
    store: HealthStore,
    loaded: LoadedModel,
    kind: str,
    engine: str,
    dates: list[date],
    scored: Iterable[Scored],
    tree: pd.DataFrame,
    progress: Progress | None = None,
) -> int:
    """Stage every scored date of a run, publish them in one transaction, then store the feature
    vectors and the account tree the API reads.

    Args:
        store: the health store.
        loaded: the model that scored.
        kind: ``score`` or ``backfill`` (the run's kind).
        engine: the feature engine used.
        dates: the run's dates (every live row within them is replaced).
        scored: (date, feature frame, scores, roll-ups) per date, in date order.
        tree: ``account_id, parent_id`` of every account.
        progress: progress callback.

    Returns:
        The run's id.

    Raises:
        Whatever ``scored`` raises, after the run is marked failed (the history is unchanged).
        StoreError: the store cannot be written.
    """
    progress = progress or _silent
    writer = store.writer()
    run_id = writer.begin(
        kind=kind, model_uri=loaded.uri, model_version=loaded.version, engine=engine, dates=dates
    )
    vectors: list[tuple[date, pd.DataFrame]] = []
    try:
        for day, features, scores, rollups in scored:
            writer.stage(run_id, *score_rows(scores, rollups))
            vectors.append((day, features))
        progress("publishing", 0, 1)
        writer.publish(run_id)
        # what the API scores by account id and explains changes with
        for day, features in vectors:
            write_latest_features(store, features, day, loaded.version)
        write_hierarchy(store, tree, dates[-1])
        progress("publishing", 1, 1)
    except BaseException as exc:
        writer.fail(run_id, f"{type(exc).__name__}: {exc}")
        raise
    return run_id


def score_rows(
    scores: pd.DataFrame, rollups: pd.DataFrame
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Scores and roll-ups as rows for the store (their JSON columns passed through as is)."""
    score_json, rollup_json = ("reasons", "scorecard_points"), ("pulling_down", "reasons")
    return _rows(scores, score_json), _rows(rollups, rollup_json)


def _rows(frame: pd.DataFrame, json_columns: tuple[str, ...]) -> list[dict[str, object]]:
    rows = records(frame)
    for row in rows:
        for column in json_columns:
            if row[column] is not None:  # a missing scorecard stays NULL
                row[column] = RawJSON(row[column])
    return rows


def _chunks(dates: list[date], size: int) -> Iterator[list[date]]:
    for start in range(0, len(dates), size):
        yield dates[start : start + size]


def _check_every_date(dates: list[date], snapshots: pd.DataFrame) -> None:
    found = {pd.Timestamp(d).date() for d in pd.unique(snapshots["as_of"])}
    if empty := [d for d in dates if d not in found]:
        raise ScoringError(f"no current customer as of {empty[0]}: nothing to score that day")


def _silent(step: str, done: int, total: int) -> None:
    return None
