"""Feature-pipeline speed: DuckDB engine, fixed vs discovered feature set, as events and dates grow.

Every case is built twice on the same data and dates: with the fixed, built-in feature set only
(an empty ``Vocabulary``) and with the features of the discovered vocabulary added (the default:
per event type and product feature counts, rates, trends and recency). Each measurement runs in a
fresh child process so that its wall time and peak memory (RSS) are its own. Prints one table, the
discovered/fixed ratios, PASS/FAIL lines for the target (10,000 accounts, about 10 million
events, 24 monthly dates, discovered features on: under 20 s and 3 GB) and writes
``benchmarks/results/features.json``.

    python benchmarks/features.py [--data DIR] [--accounts 10000 --months 24 --seed 7]
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
from datetime import timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "features.json"
TARGET_SECONDS, TARGET_GB = 20.0, 3.0
TARGET_ACCOUNTS, TARGET_EVENTS = 10_000, 10_000_000
FIXED, DISCOVERED = "fixed", "discovered"
FEATURE_SETS = (FIXED, DISCOVERED)
NUMBER_COLUMNS = (
    *("events", "dates", "snapshots", "features", "load s", "build s", "total s", "cpu s"),
    *("events/s", "time vs 1x", "peak GB", "disc/fixed time", "disc/fixed GB"),
)


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure_once(data_dir: str, every: str, months_back: int, feature_set: str) -> dict:
    """Build snapshots of one feature set in this process and report time and peak memory."""
    from vitals.features.build import build_features, data_end_day
    from vitals.features.catalog import Vocabulary
    from vitals.features.dates import from_day, parse_every, snapshot_dates
    from vitals.features.loader import load_dataset

    started, cpu_started = time.perf_counter(), time.process_time()
    dataset = load_dataset(data_dir)
    loaded = time.perf_counter()
    end = from_day(data_end_day(dataset))
    start = end - timedelta(days=int(months_back * 30.44) - 1)
    dates = snapshot_dates(start, end, parse_every(every))
    # an empty vocabulary counts nothing one by one; None lets build_features discover it
    vocabulary = Vocabulary() if feature_set == FIXED else None
    snapshots = build_features(dataset, dates, vocabulary=vocabulary)
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "feature_set": feature_set,
        "accounts": dataset.con.execute("SELECT COUNT(*) FROM accounts").fetchall()[0][0],
        "events": dataset.con.execute("SELECT COUNT(*) FROM events").fetchall()[0][0],
        "dates": len(dates),
        "snapshots": snapshots.table.num_rows,
        "features": len(snapshots.catalog),
        "event_types": len(snapshots.vocabulary.event_types),
        "product_features": len(snapshots.vocabulary.features),
        "load_s": loaded - started,
        "build_s": done - loaded,
        "total_s": done - started,
        "cpu_s": cpu_done - cpu_started,  # all threads: CPU time other processes cannot inflate
        "peak_rss_gb": peak_rss_gb(),
        "load_average": os.getloadavg()[0],  # over the last minute of the run
    }


def run_child(data_dir: Path, every: str, months_back: int, feature_set: str) -> dict:
    """One measurement in a fresh interpreter; a failed child (e.g. out of memory) is reported."""
    args = [str(data_dir), every, str(months_back), feature_set]
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        lines = (out.stderr.strip() or f"exit code {out.returncode}").splitlines()
        return {"feature_set": feature_set, "error": lines[-1]}
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
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data_dir, every, months_back, feature_set = args.child
        print(json.dumps(measure_once(data_dir, every, int(months_back), feature_set)))
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
        rows = [
            {"case": name, **run_child(path, every, back, feature_set)}
            for name, path, every, back in cases
            for feature_set in FEATURE_SETS
        ]
    report(rows)


def add_ratios(rows: list[dict]) -> None:
    """Derived columns: events/s, time vs the first case (same set), discovered vs fixed."""
    base = {row["feature_set"]: row for row in rows if row["case"] == rows[0]["case"]}
    fixed = {row["case"]: row for row in rows if row["feature_set"] == FIXED}
    for row in rows:
        if "error" in row:
            continue
        row["events_per_s"] = row["events"] / row["total_s"]
        first = base[row["feature_set"]]
        row["time_ratio"] = row["total_s"] / first["total_s"] if "error" not in first else None
        other = fixed[row["case"]]
        if row["feature_set"] == DISCOVERED and "error" not in other:
            row["discovered_vs_fixed_time"] = row["total_s"] / other["total_s"]
            row["discovered_vs_fixed_memory"] = row["peak_rss_gb"] / other["peak_rss_gb"]


def target_row(rows: list[dict]) -> dict:
    """The measurement the targets apply to: the first case (24 monthly dates, 1x events),
    discovered features on."""
    return next(r for r in rows if r["case"] == rows[0]["case"] and r["feature_set"] == DISCOVERED)


def checks_of(rows: list[dict]) -> dict[str, bool]:
    """The PASS/FAIL targets: data at target scale, then time and memory of the target row."""
    row = target_row(rows)
    if "error" in row:
        return {f"{row['case']}, discovered features: run failed ({row['error']})": False}
    case = f"{row['case']}, discovered features"
    scale = f"{row['accounts']:,} accounts, {row['events'] / 1e6:.1f}M events, {row['dates']} dates"
    at_scale = (
        row["accounts"] >= TARGET_ACCOUNTS
        and row["events"] >= 0.9 * TARGET_EVENTS
        and row["dates"] == 24
    )
    return {
        f"data at target scale (>= {TARGET_ACCOUNTS:,} accounts, ~{TARGET_EVENTS / 1e6:.0f}M "
        f"events, 24 dates): {scale}": at_scale,
        f"{case}: total {row['total_s']:.1f} s < {TARGET_SECONDS:.0f} s": (
            row["total_s"] < TARGET_SECONDS
        ),
        f"{case}: peak {row['peak_rss_gb']:.2f} GB < {TARGET_GB:.0f} GB": (
            row["peak_rss_gb"] < TARGET_GB
        ),
    }


def report(rows: list[dict]) -> None:
    """Print the table and the PASS/FAIL lines and write the JSON."""
    add_ratios(rows)
    table = Table(title="feature pipeline (DuckDB engine): fixed vs discovered feature set")
    table.add_column("case", no_wrap=True)
    table.add_column("set")
    for col in NUMBER_COLUMNS:
        table.add_column(col, justify="right")

    def ratio(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    for i, row in enumerate(rows):
        if i and row["case"] != rows[i - 1]["case"]:
            table.add_section()
        if "error" in row:
            table.add_row(row["case"], row["feature_set"], f"failed: {row['error']}")
            continue
        table.add_row(
            row["case"],
            row["feature_set"],
            f"{row['events']:,}",
            str(row["dates"]),
            f"{row['snapshots']:,}",
            str(row["features"]),
            f"{row['load_s']:.1f}",
            f"{row['build_s']:.1f}",
            f"{row['total_s']:.1f}",
            f"{row['cpu_s']:.1f}",
            f"{row['events_per_s']:,.0f}",
            ratio(row["time_ratio"]),
            f"{row['peak_rss_gb']:.2f}",
            ratio(row.get("discovered_vs_fixed_time")),
            ratio(row.get("discovered_vs_fixed_memory")),
        )
    console = Console(width=200)
    console.print(table)
    busiest = max((r["load_average"] for r in rows if "error" not in r), default=0.0)
    if busiest > (os.cpu_count() or 1):
        console.print(
            f"note: load average up to {busiest:.1f} on {os.cpu_count()} CPUs: other processes "
            "competed for the CPUs, so wall times are inflated (cpu s is CPU time of all threads)"
        )
    target = target_row(rows)
    if "error" not in target:
        console.print(
            f"discovered vocabulary ({target['case']}): {target['event_types']} event types, "
            f"{target['product_features']} product features, counted one by one"
        )
    checks = checks_of(rows)
    for check, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {check}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {"rows": rows, "checks": checks, "target_met": all(checks.values())}
    RESULTS.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
