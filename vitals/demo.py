"""``vitals demo``: the main job end to end on built-in sample data."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.build import write_snapshots
from features.pipeline import SnapshotRequest, build_snapshots, load_valid_dataset
from features.simulate import simulate, write_dataset
from features.validate import validate_dataset


def run_demo(workdir: Path, accounts: int, months: int, seed: int, console: Console) -> None:
    """Simulate a customer base, validate it and build feature snapshots, printing each step.

    Args:
        workdir: folder that receives ``data/`` and ``snapshots.parquet``.
        accounts: number of simulated accounts.
        months: months of simulated history.
        seed: random seed (same seed, same results).
        console: where to print.
    """
    data_dir = workdir / "data"
    started = time.perf_counter()
    console.rule("1. simulate")
    tables = simulate(accounts=accounts, months=months, seed=seed)
    write_dataset(tables, data_dir, "parquet")
    rows = Table(title=f"sample data in {data_dir}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, table in tables.items():
        rows.add_row(name, f"{table.num_rows:,}")
    console.print(rows)

    console.rule("2. validate")
    report = validate_dataset(data_dir)
    report.render(console)

    console.rule("3. features")
    dataset = load_valid_dataset(data_dir)
    snapshots = build_snapshots(dataset, SnapshotRequest(every="1mo"))
    out = write_snapshots(snapshots, workdir / "snapshots.parquet")
    frame = snapshots.to_pandas()
    labelled = frame["churned_within_horizon"].notna()
    console.print(
        f"{out}: {len(frame):,} snapshots x {len(snapshots.catalog)} features, "
        f"{frame['as_of'].nunique()} dates, {int(labelled.sum()):,} labelled, "
        f"churn rate {frame.loc[labelled, 'churned_within_horizon'].mean():.1%} within "
        f"{snapshots.horizon_days} days"
    )
    console.print(f"done in {time.perf_counter() - started:.1f} s")
