"""Training speed and quality on the 10k-account sample (``vitals simulate --accounts 10000
--months 24 --seed 7``), horizon 90.

Runs, each in a fresh child process (its own wall time and peak memory), all logging to a
throw-away MLflow store:

1. ``untuned``: build the snapshots (every 14 days) and write them, then ``train`` all profiles
   with ``--trials 0`` from that file (the two steps of ``vitals train DIR --features FILE``);
2. ``untuned again``: the same training once more, to check same seed -> same metrics;
3. ``tuned``: ``train`` with ``--trials N`` (default 30) from the snapshot file.

Prints one table (speed, targets, headline metrics), then the first run's report, and writes
``benchmarks/results/training.json``.

    python benchmarks/training.py [--data DIR] [--trials 30] [--skip-tuned]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the ``training`` package: keep its folder off the import path.
from rich import box
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "training.json"
TARGETS = {"untuned_s": 60.0, "tuned_s": 600.0, "peak_gb": 6.0, "auc": 0.80, "ece": 0.02}
HEADLINE = ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top10", "recall_top10")


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(data_dir: str, snapshot_file: str, trials: int, build: bool) -> dict:
    """One run in this process: optionally build the snapshots, then train and log."""
    from vitals.config.settings import get_settings
    from vitals.features.build import write_snapshots
    from vitals.training.data import build_training_snapshots
    from vitals.training.train import train

    settings = get_settings()
    build_s = 0.0
    if build:
        started = time.perf_counter()
        snapshots, _ = build_training_snapshots(
            data_dir,
            horizon_days=90,
            grace_days=settings.grace_days,
            every=settings.training.snapshot_every,
            warmup_days=settings.training.warmup_days,
        )
        write_snapshots(snapshots, snapshot_file)
        build_s = time.perf_counter() - started
    started = time.perf_counter()
    result = train(data_dir, features=snapshot_file, horizon_days=90, trials=trials)
    train_s = time.perf_counter() - started
    return {
        "trials": trials,
        "build_s": build_s,
        "train_s": train_s,
        "total_s": build_s + train_s,
        "peak_rss_gb": peak_rss_gb(),
        "report": result.report,
    }


def run_child(data_dir: Path, snapshot_file: Path, trials: int, build: bool, env: dict) -> dict:
    """One measurement in a fresh interpreter."""
    args = [
        sys.executable,
        __file__,
        "--child",
        str(data_dir),
        str(snapshot_file),
        str(trials),
        "build" if build else "read",
    ]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_data(data: Path | None, root: Path) -> Path:
    """The given data directory, or the 10k sample simulated into ``root``."""
    if data is not None:
        return data
    from vitals.features.simulate import simulate, write_dataset

    target = root / "sim10k"
    write_dataset(simulate(accounts=10_000, months=24, seed=7), target, "parquet")
    return target


def rounded(report: dict) -> dict:
    """Overall metrics of every model, rounded to 4 decimals (the determinism check)."""
    return {
        name: {k: None if v is None else round(v, 4) for k, v in r["overall"].items()}
        for name, r in report["models"].items()
    }


def main() -> None:
    """Run the measurements, print the tables and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="data directory (default: simulate 10k)")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--skip-tuned", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data_dir, snapshot_file, trials, mode = args.child
        print(json.dumps(measure(data_dir, snapshot_file, int(trials), mode == "build")))
        return

    console = Console()
    with tempfile.TemporaryDirectory(prefix="vitals-bench-") as tmp:
        root = Path(tmp)
        data_dir = ensure_data(args.data, root)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"}
        snapshot_file = root / "snapshots.parquet"
        runs = {
            "untuned": run_child(data_dir, snapshot_file, 0, True, env),
            "untuned again": run_child(data_dir, snapshot_file, 0, False, env),
        }
        if not args.skip_tuned:
            runs["tuned"] = run_child(data_dir, snapshot_file, args.trials, False, env)

    first = runs["untuned"]["report"]
    overall = first["models"]
    checks = {
        "untuned under 60 s": runs["untuned"]["total_s"] < TARGETS["untuned_s"],
        "peak memory under 6 GB": max(r["peak_rss_gb"] for r in runs.values()) < TARGETS["peak_gb"],
        "same seed, same metrics (4 decimals)": rounded(first)
        == rounded(runs["untuned again"]["report"]),
        "AUC >= 0.80": overall["vitals"]["overall"]["auc"] >= TARGETS["auc"],
        "ECE <= 0.02": overall["vitals"]["overall"]["ece"] <= TARGETS["ece"],
        **{
            f"beats {b} on AUC and Brier": c["better_auc"] and c["better_brier"]
            for b, c in first["comparison"].items()
        },
    }
    if "tuned" in runs:
        checks[f"--trials {args.trials} under 10 min"] = (
            runs["tuned"]["total_s"] < TARGETS["tuned_s"]
        )

    speed = Table(
        title="training speed (10k accounts x 24 months, horizon 90)", box=box.SIMPLE_HEAD
    )
    for column in ("run", "trials", "build s", "train s", "total s", "peak GB"):
        speed.add_column(column, justify="right")
    for name, run in runs.items():
        speed.add_row(
            name,
            str(run["trials"]),
            f"{run['build_s']:.1f}",
            f"{run['train_s']:.1f}",
            f"{run['total_s']:.1f}",
            f"{run['peak_rss_gb']:.2f}",
        )
    console.print(speed)
    for name in ("untuned", "tuned"):
        if name not in runs:
            continue
        report = runs[name]["report"]
        window = report["test_window"]
        title = (
            f"test window ({name}) {window['start']} to {window['end']}: "
            f"{window['snapshots']:,} snapshots, {window['churners']:,} churners"
        )
        quality = Table(title=title, box=box.SIMPLE_HEAD)
        quality.add_column("model")
        for metric in HEADLINE:
            quality.add_column(metric.replace("_top10", "@10"), justify="right")
        for model, result in report["models"].items():
            quality.add_row(model, *(f"{result['overall'][x]:.4f}" for x in HEADLINE))
        console.print(quality)
    for check, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {check}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs, "checks": checks, "targets": TARGETS}, indent=2))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
