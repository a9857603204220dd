"""What CSM sentiment adds to the model, out of time: each data set with and without its ratings.

For each data directory (default: two simulated sample data sets, seeds 7 and 8, the size of
``vitals simulate``), one run of the training pipeline without MLflow
(``vitals.training.pipeline.fit_and_evaluate`` on the snapshots ``vitals train DIR`` builds)
on the data as it is, and one on a copy without its ``sentiment`` table: a team that keeps no
ratings. Both runs use one seed and the same windows. The table gives, on the test window:
Vitals' AUC, PR-AUC, Brier score and ECE in both runs, the rules baseline, the ratings alone
(their AUC on the rated test rows, next to Vitals' on those rows) and whether training used the
sentiment features (it drops them below ``training.min_sentiment_share`` of the accounts).

Writes the JSON result (default ``benchmarks/results/sentiment.json``).

    python benchmarks/sentiment.py [--data DIR ...] [--seed 7] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
SAMPLE_SEEDS = (7, 8)
SAMPLE_ACCOUNTS, SAMPLE_MONTHS = 1000, 24
METRICS = ("auc", "pr_auc", "brier", "ece")


def without_ratings(data_dir: Path, into: Path) -> Path:
    """A copy of ``data_dir`` without its ``sentiment`` table."""
    copy = into / f"{data_dir.name}-without-ratings"
    shutil.copytree(
        data_dir, copy, ignore=lambda _, names: [n for n in names if n.startswith("sentiment.")]
    )
    return copy


def train_once(data_dir: Path, seed: int) -> dict:
    """One pipeline run: the test-window metrics of Vitals and the rules baseline, the
    sentiment section, and the sentiment features the model reads."""
    from vitals.config.settings import get_settings
    from vitals.training.pipeline import fit_and_evaluate
    from vitals.training.selection import SENTIMENT
    from vitals.training.train import training_snapshots

    settings = get_settings()
    started = time.perf_counter()
    snapshots, history_start, _ = training_snapshots(
        data_dir, None, settings.horizon_days, settings
    )
    outcome = fit_and_evaluate(snapshots, settings, seed=seed, history_start=history_start)
    rated = {s.name for s in snapshots.catalog if s.family == SENTIMENT}
    models = outcome.report["models"]
    return {
        "data": str(data_dir),
        "vitals": {k: models["vitals"]["overall"][k] for k in METRICS},
        "rules": {k: models["rules"]["overall"][k] for k in METRICS},
        "sentiment": outcome.report.get("sentiment"),
        "sentiment_features_used": sorted(rated & set(outcome.model.feature_names_)),
        "test_window": outcome.split.windows["test"].to_dict(),
        "seconds": time.perf_counter() - started,
    }


def sample_dirs(into: Path) -> list[Path]:
    """The default data sets: ``vitals simulate`` at seeds 7 and 8."""
    from vitals.features.simulate import simulate, write_dataset

    made = []
    for seed in SAMPLE_SEEDS:
        folder = into / f"sample-seed{seed}"
        write_dataset(simulate(SAMPLE_ACCOUNTS, SAMPLE_MONTHS, seed), folder, "parquet")
        made.append(folder)
    return made


def show(results: list[dict]) -> None:
    """Print the comparison table."""
    table = Table(title="CSM sentiment, out of time (test window)", box=box.SIMPLE_HEAVY)
    columns = ("data", "run", "AUC", "PR-AUC", "Brier", "ECE", "rules AUC", "ratings alone AUC",
               "Vitals AUC same rows", "rated test rows", "used")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("data", "run", "used") else "right")
    for result in results:
        for run in ("with ratings", "without ratings"):
            found = result[run]
            vitals, rules, section = found["vitals"], found["rules"], found["sentiment"] or {}
            alone = section.get("auc")
            same = section.get("vitals_auc_same_rows")
            table.add_row(
                Path(result["data"]).name,
                run,
                *(f"{vitals[k]:.4f}" for k in METRICS),
                f"{rules['auc']:.4f}",
                "-" if alone is None else f"{alone:.4f}",
                "-" if same is None else f"{same:.4f}",
                f"{section.get('rated_share', 0):.1%}" if section.get("available") else "-",
                ", ".join(found["sentiment_features_used"]) or "none",
            )
        gain = result["with ratings"]["vitals"]["auc"] - result["without ratings"]["vitals"]["auc"]
        result["auc_gain"] = gain
    Console(width=200).print(table)
    for result in results:
        print(
            f"{Path(result['data']).name}: AUC with ratings - without = {result['auc_gain']:+.4f}"
        )


def main() -> None:
    """Run the comparison on each data set and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", help="a data directory (repeat)")
    parser.add_argument("--seed", type=int, default=7, help="training seed")
    parser.add_argument("--output", type=Path, default=RESULTS / "sentiment.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        dirs = args.data or sample_dirs(work)
        results = [
            {
                "data": str(d),
                "with ratings": train_once(d, args.seed),
                "without ratings": train_once(without_ratings(d, work), args.seed),
            }
            for d in dirs
        ]
    show(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"seed": args.seed, "results": results}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
