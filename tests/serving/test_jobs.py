"""``score`` and ``backfill`` end to end on the DuckDB engine: what is stored, and bad input."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from kit import fit_model
from sqlalchemy import func, select

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.features.pipeline import PipelineError
from vitals.models.health_model import HealthModel
from vitals.serving.batch import (
    DateOutOfRangeError,
    ModelDataMismatchError,
    ModelNotFoundError,
    RunOptions,
    backfill,
    score,
)
from vitals.serving.store import (
    HealthRepository,
    HealthScore,
    HealthStore,
    ParentHealth,
    ScoringRun,
    StoreError,
)
from vitals.serving.store.schema import StagedHealthScore


@pytest.fixture(scope="module")
def model_v2(sample_snapshots: Snapshots, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = fit_model(sample_snapshots, version="test-2", rounds=8)
    return model.save(tmp_path_factory.mktemp("model-v2") / "health_model")


def options(url: str, model: Path, **kwargs: object) -> RunOptions:
    return RunOptions(model=str(model), database_url=url, **kwargs)


def history(url: str) -> pd.DataFrame:
    """Every stored score as (account_id, as_of, model_version, health_score), sorted."""
    store = HealthStore.open(url, migrate=False)
    try:
        with store.session() as session:
            columns = (HealthScore.account_id, HealthScore.as_of, HealthScore.model_version,
                       HealthScore.health_score)  # fmt: skip
            rows = session.execute(select(*columns)).all()
    finally:
        store.close()
    frame = pd.DataFrame(rows, columns=["account_id", "as_of", "model_version", "health_score"])
    return frame.sort_values(["as_of", "account_id"]).reset_index(drop=True)


def staged_rows(url: str) -> int:
    store = HealthStore.open(url, migrate=False)
    try:
        with store.session() as session:
            return session.scalar(select(func.count()).select_from(StagedHealthScore))
    finally:
        store.close()


def last_run(url: str) -> ScoringRun:
    store = HealthStore.open(url, migrate=False)
    try:
        with store.session() as session:
            return HealthRepository(session).runs(1)[0]
    finally:
        store.close()


def test_score_stores_every_current_customer_at_the_end_of_the_data(
    sample_dir: Path,
    model_dir: Path,
    health_model: HealthModel,
    sample_snapshots: Snapshots,
    database_url: str,
) -> None:
    summary = score(str(sample_dir), options=options(database_url, model_dir))
    frame = sample_snapshots.to_pandas()
    end = frame["as_of"].max()
    current = frame[frame["as_of"] == end].reset_index(drop=True)
    assert summary.as_of == end and summary.dates == [end]
    assert summary.n_scores == len(current)
    assert sum(b.accounts for b in summary.bands) == len(current)
    expected = health_model.predict(current).set_index("account_id")
    stored = history(database_url).set_index("account_id")
    assert set(stored.index) == set(expected.index)
    pd.testing.assert_series_equal(
        stored["health_score"].sort_index(), expected["health_score"].sort_index(),
        check_names=False, rtol=1e-12,
    )  # fmt: skip
    assert (stored["model_version"] == "test-1").all()
    assert summary.revenue_at_risk == pytest.approx(
        (expected["churn_probability"] * current.set_index("account_id")["contract_value"]).sum()
    )
    store = HealthStore.open(database_url, migrate=False)
    with store.session() as session:
        weightings = session.execute(
            select(ParentHealth.weighting, func.count()).group_by(ParentHealth.weighting)
        ).all()
    store.close()
    assert dict(weightings)["count"] == dict(weightings)["contract_value"] > 0
    assert last_run(database_url).status == "complete"


def test_backfill_replaces_its_window_and_keeps_older_history(
    sample_dir: Path, model_dir: Path, model_v2: Path, sqlite_url: str
) -> None:
    end = score(str(sample_dir), options=options(sqlite_url, model_dir)).as_of
    old = end - timedelta(days=120)
    score(str(sample_dir), old, options(sqlite_url, model_dir))
    off_grid = end - timedelta(days=3)
    score(str(sample_dir), off_grid, options(sqlite_url, model_dir))
    summary = backfill(str(sample_dir), 60, "14d", options(sqlite_url, model_v2))
    expected = [end - timedelta(days=14 * k) for k in range(4, -1, -1)]
    assert summary.dates == expected and summary.kind == "backfill"
    stored = history(sqlite_url)
    assert sorted(set(stored["as_of"])) == [old, *expected]  # off_grid lay in the window
    assert staged_rows(sqlite_url) == 0
    window = stored[stored["as_of"] >= expected[0]]
    assert (window["model_version"] == "test-2").all()
    assert (stored.loc[stored["as_of"] == old, "model_version"] == "test-1").all()
    assert summary.reference == expected[-2]


def test_an_interrupted_backfill_leaves_the_old_history_readable_and_intact(
    sample_dir: Path, model_dir: Path, model_v2: Path, sqlite_url: str
) -> None:
    backfill(str(sample_dir), 45, "7d", options(sqlite_url, model_dir))
    before = history(sqlite_url)
    seen: list[pd.DataFrame] = []

    def interrupt(step: str, done: int, total: int) -> None:
        if step == "scoring" and done == 3:
            seen.append(history(sqlite_url))  # a reader in the middle of the run
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill(str(sample_dir), 45, "7d", options(sqlite_url, model_v2), progress=interrupt)
    pd.testing.assert_frame_equal(seen[0], before)
    pd.testing.assert_frame_equal(history(sqlite_url), before)
    assert staged_rows(sqlite_url) == 0
    run = last_run(sqlite_url)
    assert run.status == "failed" and "KeyboardInterrupt" in run.error


def test_readers_see_the_old_history_until_the_new_one_is_published(
    sample_dir: Path, model_dir: Path, model_v2: Path, sqlite_url: str
) -> None:
    backfill(str(sample_dir), 30, "7d", options(sqlite_url, model_dir))
    before = history(sqlite_url)
    seen: dict[tuple[str, int], pd.DataFrame] = {}

    def read(step: str, done: int, total: int) -> None:
        if step == "publishing":
            seen[(step, done)] = history(sqlite_url)

    backfill(str(sample_dir), 30, "7d", options(sqlite_url, model_v2), progress=read)
    pd.testing.assert_frame_equal(seen[("publishing", 0)], before)
    after = seen[("publishing", 1)]
    assert (after["model_version"] == "test-2").all()
    assert after[["account_id", "as_of"]].equals(before[["account_id", "as_of"]])


def test_an_as_of_date_outside_the_data_is_refused_and_nothing_is_written(
    sample_dir: Path, model_dir: Path, sqlite_url: str
) -> None:
    for day in (date(2031, 1, 1), date(2000, 1, 1)):
        with pytest.raises(DateOutOfRangeError, match="outside the data"):
            score(str(sample_dir), day, options(sqlite_url, model_dir))
    assert history(sqlite_url).empty


def test_no_registered_model_is_a_clear_error(
    sample_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match=r"vitals-health@champion.*mlflow\.db"):
        score(str(sample_dir), options=RunOptions(database_url=sqlite_url))
    assert not (tmp_path / "vitals.db").exists()
    assert not (tmp_path / "mlflow.db").exists()  # looking did not create an MLflow store


def test_a_model_needing_a_table_the_data_lacks_is_refused(
    sample_dir: Path, model_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    without = shutil.copytree(sample_dir, tmp_path / "no-tickets")
    (without / "tickets.parquet").unlink()
    with pytest.raises(ModelDataMismatchError, match=r"tickets table"):
        score(str(without), options=options(sqlite_url, model_dir))
    assert history(sqlite_url).empty


def test_a_read_only_store_is_refused_before_the_data_is_read(
    model_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "vitals.db"
    HealthStore.open(f"sqlite:///{path}").close()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    with pytest.raises(StoreError, match="read-only"):
        score(str(tmp_path / "no-such-dir"), options=options(url, model_dir))
    assert history(f"sqlite:///{path}").empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "pandas"}, "--engine"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_bad_options_are_refused_before_anything_is_opened(
    sample_dir: Path, model_dir: Path, tmp_path: Path, kwargs: dict, message: str
) -> None:
    url = f"sqlite:///{tmp_path}/never.db"
    with pytest.raises(ValueError, match=message):
        score(str(sample_dir), options=options(url, model_dir, **kwargs))
    with pytest.raises(ValueError, match="--days"):
        backfill(str(sample_dir), 0, options=options(url, model_dir))
    with pytest.raises(ValueError, match="--every"):
        backfill(str(sample_dir), 30, "weekly", options(url, model_dir))
    assert not (tmp_path / "never.db").exists()


def test_a_missing_data_directory_is_a_pipeline_error(model_dir: Path, sqlite_url: str) -> None:
    with pytest.raises(PipelineError):
        score("/nonexistent/data", options=options(sqlite_url, model_dir))


@pytest.mark.parametrize(
    ("setting", "text", "named"),
    [
        ("scorecard", '[[scorecards.default.measures]]\nname = "X"\n'
         'feature = "no_such_feature"\nweight = 1\nlinear = {from = 0, to = 1}\n',
         "no_such_feature"),
        ("playbook", '[[rules]]\nfeature = "no_such_feature"\ndirection = "lowers"\n'
         'action = "call them"\n', "no_such_feature"),
    ],
)  # fmt: skip
def test_a_bad_scorecard_or_playbook_file_stops_score_before_anything_is_written(
    sample_dir: Path,
    model_dir: Path,
    sqlite_url: str,
    tmp_path: Path,
    setting: str,
    text: str,
    named: str,
) -> None:
    bad = tmp_path / f"bad-{setting}.toml"
    bad.write_text(text)
    settings = Settings(**{setting: str(bad)})
    with pytest.raises(ValueError, match=named) as raised:
        score(str(sample_dir), options=options(sqlite_url, model_dir, settings=settings))
    assert str(bad) in str(raised.value) or bad.name in str(raised.value)
    assert history(sqlite_url).empty


@pytest.mark.parametrize("job", ["score", "backfill"])
def test_score_and_backfill_store_the_scorecard_beside_the_model_score(
    sample_dir: Path, model_dir: Path, sqlite_url: str, job: str
) -> None:
    if job == "score":
        score(str(sample_dir), options=options(sqlite_url, model_dir))
    else:
        assert len(backfill(str(sample_dir), 28, "14d", options(sqlite_url, model_dir)).dates) == 2
    store = HealthStore.open(sqlite_url)
    with store.session() as session:
        rows = session.scalars(select(HealthScore)).all()
    store.close()
    carded = [r for r in rows if r.scorecard_score is not None]
    assert len(carded) == len(rows) > 0  # the default card serves every profile
    for row in carded[:50]:
        total = sum(m["contribution"] for m in row.scorecard_points)
        assert total == pytest.approx(row.scorecard_score, abs=1e-6)
        assert row.scorecard_band in ("good", "average", "poor")
    assert len({round(r.scorecard_score, 3) for r in carded}) > 10
    assert len({r.as_of for r in carded}) == (1 if job == "score" else 2)
