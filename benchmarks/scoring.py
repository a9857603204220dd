"""Batch-scoring speed: ``vitals score`` and a 180-day weekly ``vitals backfill`` into SQLite.

Targets: scoring 10,000 accounts with reasons and roll-ups into SQLite in under 10 s, and a
180-day weekly backfill (26 dates) of the 10,000-account sample in under 3 minutes. Also reports
scores per second and how scoring time grows with the number of accounts (1x, 2x, 4x copies of
the sample with renamed accounts).

Without ``--model`` a stand-in HealthModel is fitted on the sample's monthly snapshots, shaped
like training's boosters (a pooled booster of 400 trees x 15 leaves, and per-profile boosters
continuing it with 200 more trees); the table says which model was used. Each measurement runs
in a fresh interpreter, as a command would. Prints one table and writes
``benchmarks/results/scoring.json``.

    python benchmarks/scoring.py [--data DIR | --accounts 10000 --months 24 --seed 7]
                                 [--model URI_OR_DIR] [--save-model DIR] [--scales 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This folder holds features.py, named like the ``features`` package: keep it off the path.
import duckdb
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "scoring.json"
SCORE_TARGET_S, BACKFILL_TARGET_S = 10.0, 180.0
RENAMED = ("account_id", "parent_id", "ticket_id")


def measure(kind: str, data_dir: str, model: str, database: str) -> dict:
    """Run one ``score`` or 180-day weekly ``backfill`` in this process, timing its phases."""
    from vitals.serving.batch import RunOptions, backfill, score

    marks: dict[str, float] = {}

    def progress(step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(f"{step}_start", now)
        marks[f"{step}_end"] = now

    started = time.perf_counter()
    options = RunOptions(model=model, database_url=f"sqlite:///{database}")
    if kind == "score":
        summary = score(data_dir, options=options, progress=progress)
    else:
        summary = backfill(data_dir, 180, "7d", options, progress)
    done = time.perf_counter()
    # scoring covers explaining, rolling up and staging every date; publishing the swap
    scoring = marks["publishing_start"] - marks["features_end"]
    publishing = marks["publishing_end"] - marks["publishing_start"]
    return {
        "dates": len(summary.dates),
        "scores": summary.n_scores,
        "model_version": summary.model_version,
        "setup_s": marks["features_start"] - started,
        "features_s": marks["features_end"] - marks["features_start"],
        "scoring_s": scoring,
        "publish_s": publishing,
        "store_s": scoring + publishing,
        "total_s": done - started,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def run_child(kind: str, data_dir: Path, model: str, database: Path) -> dict:
    """One measurement in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(data_dir), model, str(database)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaled_copy(data_dir: Path, factor: int, root: Path) -> Path:
    """``factor`` copies of every account (ids suffixed ``~k``), hierarchy and history included."""
    target = root / f"x{factor}"
    target.mkdir()
    con = duckdb.connect()
    for path in sorted(data_dir.glob("*.parquet")):
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
        renamed = [c for c in columns if c in RENAMED]
        copies = " UNION ALL ".join(
            f"SELECT * REPLACE ({', '.join(f'{c} || {k!r} AS {c}' for c in renamed)}) "
            f"FROM read_parquet('{path}')"
            for k in [f"~{i}" for i in range(factor)]
        )
        con.execute(f"COPY ({copies}) TO '{target / path.name}' (FORMAT parquet)")
    return target


def fit_stand_in(data_dir: Path, target: Path) -> str:
    """Fit and save the stand-in model; returns a description for the table."""
    import lightgbm as lgb
    import numpy as np

    from vitals.config.settings import Settings
    from vitals.features.build import build_features, default_dates
    from vitals.features.loader import load_dataset
    from vitals.models.calibration import Calibrator
    from vitals.models.profiles import ProfileModel, ProfileRouter
    from vitals.training.assemble import profile_rules, unfitted_model
    from vitals.training.data import categories_of, design_matrix

    started = time.perf_counter()
    settings = Settings()
    dataset = load_dataset(data_dir)
    snapshots = build_features(dataset, default_dates(dataset, every="1mo"))
    frame = snapshots.to_pandas()
    frame = frame[frame["churned_within_horizon"].notna()].reset_index(drop=True)
    names = [n for n in snapshots.feature_names if n != "segment"]  # segment routes profiles
    categorical = [s.name for s in snapshots.catalog if s.kind == "categorical" and s.name in names]
    X = design_matrix(frame, names, categories_of(frame, categorical))
    y = frame["churned_within_horizon"].to_numpy(dtype=int)
    dates = sorted(frame["as_of"].unique())
    train = (frame["as_of"] < dates[int(len(dates) * 0.7)]).to_numpy()
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    profile = router.route(frame["segment"].to_numpy(dtype=object, na_value=None),
                           frame["tenure_days"].to_numpy(dtype=float))  # fmt: skip
    params = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.05,
              "min_data_in_leaf": 100, "feature_fraction": 0.8, "verbose": -1, "seed": 7,
              "num_threads": 2}  # fmt: skip
    pooled = lgb.train(params, lgb.Dataset(X[train], y[train], free_raw_data=False), 400)
    pieces, own = [], 0
    for name in router.profile_names:
        rows, booster, is_pooled = profile == name, pooled, True
        if (rows & train).sum() >= 2000 and y[rows & train].sum() >= 100:
            data = lgb.Dataset(X[rows & train], y[rows & train])
            booster = lgb.train(params, data, 200, init_model=pooled)
            is_pooled, own = False, own + 1
        calibration = rows & ~train if y[rows & ~train].sum() >= 20 else ~train
        margin = booster.predict(X[calibration], raw_score=True)
        method = "isotonic" if calibration.sum() >= 1000 else "sigmoid"
        calibrator = Calibrator(method).fit(margin, y[calibration])
        rate = float(np.clip(y[rows].mean() if rows.any() else y.mean(), 0.01, 0.99))
        pieces.append(ProfileModel(name, booster, calibrator, rate, pooled=is_pooled))
    metadata = {"model_version": "stand-in"}
    model = unfitted_model(snapshots.feature_set, settings).fit(pieces, metadata=metadata)
    model.save(target)
    seconds = time.perf_counter() - started
    return (f"stand-in fitted here in {seconds:.0f} s: pooled booster 400 trees x 15 leaves + "
            f"{own} profile boosters of 600 trees, {len(names)} features")  # fmt: skip


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="existing data directory (Parquet)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="registered alias, MLflow URI or model directory")
    parser.add_argument("--save-model", type=Path, help="keep the stand-in model here")
    parser.add_argument("--scales", default="1,2,4", help="account multiples to score")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory(prefix="vitals-bench-scoring-") as tmp:
        root = Path(tmp)
        data_dir = args.data
        if data_dir is None:
            from vitals.features.simulate import simulate, write_dataset

            data_dir = root / "data"
            write_dataset(simulate(args.accounts, args.months, args.seed), data_dir)
        model, described = args.model, f"given: {args.model}"
        if model is None:
            target = args.save_model or root / "stand-in"
            described = fit_stand_in(data_dir, target)
            model = str(target)
        rows = []
        for k in scales:
            source = data_dir if k == 1 else scaled_copy(data_dir, k, root)
            row = run_child("score", source, model, root / f"score-x{k}.db")
            rows.append({"case": f"score, {k}x accounts", "scale": k, **row})
        # the backfill replaces the 1x store's history, as a re-run after a change would
        row = run_child("backfill", data_dir, model, root / "score-x1.db")
        rows.append({"case": "backfill 180 d weekly, 1x", "scale": 1, **row})
    report(rows, described)


def report(rows: list[dict], model: str) -> None:
    """Print the table and write the JSON."""
    base = next(r for r in rows if r["case"].startswith("score") and r["scale"] == 1)
    table = Table(title="batch scoring into SQLite (DuckDB engine, reasons + roll-ups)",
                  caption=f"model: {model}")  # fmt: skip
    for col in ("case", "dates", "scores", "setup s", "features s", "score+write s", "publish s",
                "total s", "scores/s", "store time vs 1x", "peak GB"):  # fmt: skip
        table.add_column(col, justify="left" if col == "case" else "right")
    for row in rows:
        row["scores_per_s"] = row["scores"] / row["store_s"]
        row["scores_per_s_total"] = row["scores"] / row["total_s"]
        is_score = row["case"].startswith("score")
        row["store_time_ratio"] = row["store_s"] / base["store_s"] if is_score else None
        table.add_row(row["case"], str(row["dates"]), f"{row['scores']:,}",
                      f"{row['setup_s']:.1f}", f"{row['features_s']:.1f}",
                      f"{row['scoring_s']:.1f}", f"{row['publish_s']:.2f}",
                      f"{row['total_s']:.1f}", f"{row['scores_per_s']:,.0f}",
                      f"{row['store_time_ratio']:.2f}" if is_score else "",
                      f"{row['peak_rss_gb']:.2f}")  # fmt: skip
    console = Console(width=160)
    console.print(table)
    backfill = next(r for r in rows if r["case"].startswith("backfill"))
    score_ok = base["store_s"] < SCORE_TARGET_S
    backfill_ok = backfill["total_s"] < BACKFILL_TARGET_S
    console.print(
        f"score 1x, scoring with reasons and roll-ups into SQLite: {base['store_s']:.1f} s "
        f"(target < {SCORE_TARGET_S:.0f} s: {'met' if score_ok else 'NOT met'}); whole command "
        f"incl. loading and validating the data and building features: {base['total_s']:.1f} s"
    )
    console.print(
        f"backfill 180 d weekly ({backfill['dates']} dates), whole command: "
        f"{backfill['total_s']:.1f} s (target < {BACKFILL_TARGET_S:.0f} s: "
        f"{'met' if backfill_ok else 'NOT met'})"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(
        {"model": model, "rows": rows, "score_target_met": score_ok,
         "backfill_target_met": backfill_ok}, indent=2,
    ))  # fmt: skip


if __name__ == "__main__":
    main()
