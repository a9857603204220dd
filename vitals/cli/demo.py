"""``vitals demo``: the main job end to end on built-in sample data."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vitals.features.build import write_snapshots
from vitals.features.pipeline import SnapshotRequest, build_snapshots, load_valid_dataset
from vitals.features.simulate import simulate, write_dataset
from vitals.features.validate import validate_dataset


def run_demo(
    workdir: Path, accounts: int, months: int, seed: int, console: Console, *, serve: bool = True
) -> None:
    """Simulate, validate, build features, train, promote, backfill, score, then serve the API.

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
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    if serve:
        _serve(poorest, console)


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


def _serve(account_id: str | None, console: Console) -> None:
    from vitals.config.settings import get_settings
    from vitals.serving.api.server import example_requests, issue_key, serve

    console.rule("6. serve the API")
    settings = get_settings()
    new = issue_key(settings, ["read", "predict"], "demo")
    console.print(f"API key (read, predict), shown once: [bold]{new.key}[/]", soft_wrap=True)
    console.print("try:")
    for line in example_requests("http://127.0.0.1:8000", new.key, account_id):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print("schema: http://127.0.0.1:8000/openapi.json (with the key); Ctrl-C stops")
    serve(settings, host="127.0.0.1", port=8000)
