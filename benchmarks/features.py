"""Feature-pipeline speed: whole feature set, DuckDB engine, as events and snapshot dates grow.

Each measurement runs in a fresh child process so that its wall time and peak memory (RSS) are
its own. Prints one table and writes ``benchmarks/results/features.json``.

    python benchmarks/features.py [--data DIR] [--accounts 10000 --months 24 --seed 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# This file is named like the ``features`` package: keep its folder off the import path.
import duckdb
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "features.json"
TARGET_SECONDS, TARGET_GB = 20.0, 3.0


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure_once(data_dir: str, every: str, months_back: int) -> dict:
    """Build snapshots in this process and report time and peak memory."""
    from vitals.features.build import build_features, data_end_day
    from vitals.features.dates import from_day, parse_every, snapshot_dates
    from vitals.features.loader import load_dataset

    started = time.perf_counter()
    dataset = load_dataset(data_dir)
    loaded = time.perf_counter()
    end = from_day(data_end_day(dataset))
    start = end - timedelta(days=int(months_back * 30.44) - 1)
    dates = snapshot_dates(start, end, parse_every(every))
    snapshots = build_features(dataset, dates)
    done = time.perf_counter()
    events = dataset.con.execute("SELECT COUNT(*) FROM events").fetchall()[0][0]
    return {
        "events": events,
        "dates": len(dates),
        "snapshots": snapshots.table.num_rows,
        "features": len(snapshots.catalog),
        "load_s": loaded - started,
        "build_s": done - loaded,
        "total_s": done - started,
        "peak_rss_gb": peak_rss_gb(),
    }


def run_child(data_dir: Path, every: str, months_back: int) -> dict:
    """One measurement in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(data_dir), every, str(months_back)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaled_copy(data_dir: Path, factor: int, root: Path) -> Path:
    """A copy of ``data_dir`` whose events are repeated ``factor`` times by distinct users."""
    target = root / f"x{factor}"
    target.mkdir()
    con = duckdb.connect()
    for path in data_dir.glob("*.parquet"):
        if path.stem == "events":
            copies = " UNION ALL ".join(
                f"SELECT * REPLACE (user_id || '~{k}' AS user_id) FROM read_parquet('{path}')"
                for k in range(factor)
            )
            con.execute(f"COPY ({copies}) TO '{target / path.name}' (FORMAT parquet)")
        else:
            (target / path.name).symlink_to(path)
    return target


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="existing data directory (Parquet)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_once(args.child[0], args.child[1], int(args.child[2]))))
        return
    with tempfile.TemporaryDirectory(prefix="vitals-bench-") as tmp:
        data_dir = args.data
        if data_dir is None:
            from vitals.features.simulate import simulate, write_dataset

            data_dir = Path(tmp) / "data"
            write_dataset(simulate(args.accounts, args.months, args.seed), data_dir)
        cases = [("24 monthly dates, 1x events", data_dir, "1mo", 24)]
        cases += [
            (f"24 monthly dates, {k}x events", scaled_copy(data_dir, k, Path(tmp)), "1mo", 24)
            for k in (2, 4)
        ]
        cases += [
            ("12 monthly dates", data_dir, "1mo", 12),
            ("104 weekly dates", data_dir, "7d", 24),
        ]
        rows = [{"case": name, **run_child(path, every, back)} for name, path, every, back in cases]
    report(rows)


def report(rows: list[dict]) -> None:
    """Print the table and write the JSON."""
    base = rows[0]
    table = Table(title="feature pipeline (DuckDB engine, whole feature set)")
    for col in (
        "case",
        "events",
        "dates",
        "snapshots",
        "features",
        "load s",
        "build s",
        "total s",
        "events/s",
        "time vs 1x",
        "peak GB",
    ):
        table.add_column(col, justify="left" if col == "case" else "right")
    for row in rows:
        row["events_per_s"] = row["events"] / row["total_s"]
        row["time_ratio"] = row["total_s"] / base["total_s"]
        table.add_row(
            row["case"],
            f"{row['events']:,}",
            str(row["dates"]),
            f"{row['snapshots']:,}",
            str(row["features"]),
            f"{row['load_s']:.1f}",
            f"{row['build_s']:.1f}",
            f"{row['total_s']:.1f}",
            f"{row['events_per_s']:,.0f}",
            f"{row['time_ratio']:.2f}",
            f"{row['peak_rss_gb']:.2f}",
        )
    console = Console(width=150)
    console.print(table)
    ok = base["total_s"] < TARGET_SECONDS and base["peak_rss_gb"] < TARGET_GB
    console.print(
        f"target (24 monthly, 1x): < {TARGET_SECONDS:.0f} s and < {TARGET_GB:.0f} GB: "
        f"{'met' if ok else 'NOT met'}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "target_met": ok}, indent=2))


if __name__ == "__main__":
    main()
