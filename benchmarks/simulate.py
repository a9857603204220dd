"""Sample-data simulator speed: ``simulate`` plus writing Parquet, rows per table and peak memory.

Target: 10,000 accounts x 24 months (about 10 million events) simulated and written as Parquet in
under 60 s and under 4 GB peak RSS. Prints one table and writes
``benchmarks/results/simulate.json``.

    python benchmarks/simulate.py [--accounts 10000 --months 24 --seed 7] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vitals.features.simulate import simulate, write_dataset

RESULT = Path(__file__).parent / "results" / "simulate.json"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(accounts: int, months: int, seed: int, out: Path) -> dict[str, object]:
    """Time one simulation and one Parquet write; return the measurements."""
    start = time.perf_counter()
    tables = simulate(accounts, months, seed)
    simulated = time.perf_counter()
    rss_after_simulate = _peak_rss_mb()
    paths = write_dataset(tables, out)
    written = time.perf_counter()
    events = tables["events"].num_rows
    return {
        "accounts": accounts,
        "months": months,
        "seed": seed,
        "rows": {name: table.num_rows for name, table in tables.items()},
        "bytes": {name: path.stat().st_size for name, path in paths.items()},
        "simulate_s": round(simulated - start, 2),
        "write_parquet_s": round(written - simulated, 2),
        "total_s": round(written - start, 2),
        "events_per_s": round(events / (written - start)),
        "peak_rss_mb_after_simulate": round(rss_after_simulate),
        "peak_rss_mb": round(_peak_rss_mb()),
        "targets": {"total_s": 60, "peak_rss_mb": 4096},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def show(result: dict[str, object]) -> None:
    """Print the measurements as one table."""
    rows, sizes = result["rows"], result["bytes"]
    table = Table(title=f"simulate {result['accounts']} accounts x {result['months']} months")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, count in rows.items():
        table.add_row(f"rows: {name}", f"{count:,} ({sizes[name] / 1e6:.1f} MB parquet)")
    table.add_row("simulate (s)", f"{result['simulate_s']:.2f}")
    table.add_row("write parquet (s)", f"{result['write_parquet_s']:.2f}")
    table.add_row("total (s), target < 60", f"{result['total_s']:.2f}")
    table.add_row("events / s (total)", f"{result['events_per_s']:,}")
    table.add_row("peak RSS after simulate (MB)", f"{result['peak_rss_mb_after_simulate']:,}")
    table.add_row("peak RSS (MB), target < 4096", f"{result['peak_rss_mb']:,}")
    Console().print(table)


def main() -> None:
    """Parse arguments, run the benchmark, print and save the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="keep the data here (default: a temporary folder)")
    args = parser.parse_args()
    if args.out:
        result = run(args.accounts, args.months, args.seed, args.out)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = run(args.accounts, args.months, args.seed, Path(folder))
    show(result)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
