"""``vitals demo``: the main job end to end on built-in sample data."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

from vitals.features.build import write_snapshots
from vitals.features.pipeline import SnapshotRequest, build_snapshots, load_valid_dataset
from vitals.features.simulate import simulate, write_dataset
from vitals.features.validate import validate_dataset

if TYPE_CHECKING:
    from vitals.features.loader import Dataset
    from vitals.serving.store import HealthStore


def run_demo(
    workdir: Path, accounts: int, months: int, seed: int, console: Console, *, serve: bool = True
) -> None:
    """Simulate, validate, build features, train, promote, backfill, score, ingest the next day
    (re-scoring and raising alerts), then serve the API.

    The model is tracked and registered in the MLflow store (``mlruns/`` here unless
    ``MLFLOW_TRACKING_URI`` says otherwise); scores go to the health store of the settings.

    Args:
        workdir: folder that receives ``data/`` and ``snapshots.parquet``.
        accounts: number of simulated accounts.
        months: months of simulated history.
        seed: random seed (same seed, same results).
        console: where to print.
        serve: end by serving the API on 127.0.0.1:8000 (blocks until interrupted).
    """
    started = time.perf_counter()
    data_dir = workdir / "data"
    _simulate(data_dir, accounts, months, seed, console)
    _validate_and_build(data_dir, workdir, console)
    _train(data_dir, seed, console)
    poorest = _score(data_dir, console)
    _ingest_a_day(data_dir, console)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    if serve:
        _serve(poorest, data_dir, console)


def _simulate(data_dir: Path, accounts: int, months: int, seed: int, console: Console) -> None:
    console.rule("1. simulate")
    tables = simulate(accounts=accounts, months=months, seed=seed)
    write_dataset(tables, data_dir, "parquet")
    rows = Table(title=f"sample data in {data_dir}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, table in tables.items():
        rows.add_row(name, f"{table.num_rows:,}")
    console.print(rows)


def _validate_and_build(data_dir: Path, workdir: Path, console: Console) -> None:
    console.rule("2. validate")
    validate_dataset(data_dir).render(console)
    console.rule("3. features")
    snapshots = build_snapshots(load_valid_dataset(data_dir), SnapshotRequest(every="1mo"))
    out = write_snapshots(snapshots, workdir / "snapshots.parquet")
    frame = snapshots.to_pandas()
    labelled = frame["churned_within_horizon"].notna()
    console.print(
        f"{out}: {len(frame):,} snapshots x {len(snapshots.catalog)} features, "
        f"{frame['as_of'].nunique()} dates, {int(labelled.sum()):,} labelled, "
        f"churn rate {frame.loc[labelled, 'churned_within_horizon'].mean():.1%} within "
        f"{snapshots.horizon_days} days"
    )


def _train(data_dir: Path, seed: int, console: Console) -> None:
    from vitals.cli.training import print_report
    from vitals.training.train import promote, train

    console.rule("4. train, register and promote")
    result = train(data_dir, trials=0, seed=seed, register=True)
    print_report(result.report)
    done = promote(result.version, force=True)
    console.print(f"run {result.run_id}: {done.name} version {done.version} is the champion")


def _score(data_dir: Path, console: Console) -> str | None:
    from vitals.cli.scoring import print_summary
    from vitals.serving import batch

    console.rule("5. backfill 180 days of health history, then score today")
    history = batch.backfill(str(data_dir), days=180, every="7d")
    console.print(f"backfilled {history.n_scores:,} scores over {len(history.dates)} dates")
    summary = batch.score(str(data_dir))
    print_summary(summary)
    return summary.fallers[0].account_id if summary.fallers else None


def _ingest_a_day(data_dir: Path, console: Console) -> None:
    """Ingest the next day's rows, re-score, and print the alerts raised (demo rules)."""
    from vitals.config.alerts import AlertSettings
    from vitals.config.settings import get_settings
    from vitals.serving.batch import load_model
    from vitals.serving.ingest.ingestor import Ingestor
    from vitals.serving.ingest.runtime import start_worker
    from vitals.serving.store import HealthStore

    console.rule("6. ingest a day of new rows, re-score, raise alerts")
    settings = get_settings()
    rules = AlertSettings.model_validate({"rules": DEMO_RULES})
    settings = settings.model_copy(
        update={
            "alerts": rules,
            "ingest": settings.ingest.model_copy(update={"data_dir": str(data_dir)}),
        }
    )
    ingestor = Ingestor(data_dir, settings.ingest)
    try:
        result = ingestor.ingest(next_day(ingestor.dataset), key="demo-next-day")
    finally:
        ingestor.close()
    kept = ", ".join(f"{n:,} {table}" for table, n in result.accepted.items())
    console.print(f"batch {result.batch}: kept {kept}; {len(result.rejected)} rejected")
    store = HealthStore.open(settings.database_url)
    loaded = load_model("champion")
    worker = start_worker(settings, store, lambda: loaded, start=False)
    try:
        step = worker.turn()
    finally:
        worker.stop()
    if step is not None:
        console.print(f"re-scored {step.accounts:,} accounts as of {step.as_of}")
        _print_alerts(store, step.as_of, console)
    store.close()


DEMO_RULES = [
    {"name": "fell-to-poor", "kind": "band_drop", "to": "poor", "severity": "critical"},
    {"name": "fell-5-points", "kind": "score_drop", "points": 5, "days": 7},
    {"name": "risk-90d-above-40pct", "kind": "risk_above", "days": 90, "threshold": 0.4},
]


def next_day(dataset: Dataset, troubled: int = 5) -> dict[str, list[dict[str, object]]]:
    """The rows of the day after the data: each account's last-day events again, a day later;
    except for ``troubled`` accounts with the most contract value, which go silent, open urgent
    tickets and answer an NPS survey with 0."""
    last = dataset.data_end.date()
    events = dataset.con.execute(
        "SELECT account_id, timestamp + INTERVAL 1 DAY AS timestamp, event_type, user_id, "
        "feature, value FROM events WHERE CAST(timestamp AS DATE) = ?",
        [last],
    ).df()
    unhappy = [
        row[0]
        for row in dataset.con.execute(
            "SELECT account_id FROM subscriptions WHERE end_date IS NULL "
            "GROUP BY 1 ORDER BY sum(mrr) DESC, 1 LIMIT ?",
            [troubled],
        ).fetchall()
    ]
    events = events[~events["account_id"].isin(unhappy)]
    day = pd.Timestamp(last) + pd.Timedelta(days=1)
    stamp = lambda hour: (day + pd.Timedelta(hours=hour)).isoformat()  # noqa: E731
    return {
        "events": [
            {**row, "timestamp": row["timestamp"].isoformat()}
            for row in events.astype(object).where(events.notna(), None).to_dict("records")
        ],
        "tickets": [
            {"account_id": a, "ticket_id": f"demo-{a}-{i}", "opened_at": stamp(9 + i),
             "priority": "urgent"}
            for a in unhappy
            for i in range(3)
        ],
        "surveys": [
            {"account_id": a, "responded_at": stamp(15), "kind": "nps", "score": 0}
            for a in unhappy
        ],
    }  # fmt: skip


def _print_alerts(store: HealthStore, as_of: date, console: Console) -> None:
    from sqlalchemy import select

    from vitals.serving.store import Alert

    with store.session() as session:
        raised = list(session.scalars(select(Alert).where(Alert.as_of == as_of)))
    table = Table(title=f"{len(raised)} alerts raised as of {as_of}")
    for column in ("rule", "account", "severity", "alert"):
        table.add_column(column)
    for alert in raised[:15]:
        table.add_row(alert.rule, alert.subject_id, alert.severity, alert.message)
    console.print(table)


def _serve(account_id: str | None, data_dir: Path, console: Console) -> None:
    from vitals.config.settings import get_settings
    from vitals.serving.api.server import example_requests, issue_key, serve

    console.rule("7. serve the API")
    settings = get_settings()
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"data_dir": str(data_dir)})}
    )
    new = issue_key(settings, ["read", "predict", "ingest"], "demo")
    console.print(
        f"API key (read, predict, ingest), shown once: [bold]{new.key}[/]", soft_wrap=True
    )
    console.print("try:")
    for line in example_requests("http://127.0.0.1:8000", new.key, account_id):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print("schema: http://127.0.0.1:8000/openapi.json (with the key)")
    console.print(
        "CS console: [bold]http://127.0.0.1:8000/console[/], sign in with the key above; "
        "Ctrl-C stops"
    )
    serve(settings, host="127.0.0.1", port=8000)
