"""Model quality on any data directory (e.g. third-party data), out of time, horizon 90.

One run of the training pipeline without MLflow (``vitals.training.pipeline.fit_and_evaluate``,
on the snapshots ``vitals train DIR`` builds, same settings) gives Vitals and its three
baselines (rules, logistic, pooled). Beside them, a deliberately plain reference written here:
one LightGBM (the untuned Vitals defaults, fixed in this file) on per-event-type counts over 30
and 90 days, counted with DuckDB from the raw events table for exactly the run's (account,
as_of) rows (events on days ``[as_of - N, as_of)``), plus MRR, seats, billing period and days to
renewal from the snapshot features. It is trained on the run's training window, early-stopped
on its calibration window and evaluated on its test window, raw and Platt-scaled on the
calibration window (so its ECE compares). Every metric comes from ``vitals.training.metrics`` on
the same test rows.

Prints one table (wall time and peak memory below it), the data directory's ``reference.json``
when it has one, and PASS/FAIL lines for the targets: Vitals beats every baseline and the
reference by at least 0.02 AUC, overall ECE at most 0.02. Writes the JSON result (default
``benchmarks/results/external-<dirname>.json``). Exits 1 when the Vitals run fails (the error
is printed and written; the reference is still measured on the split the pipeline would use).

    python benchmarks/external.py --data DIR [--horizon 90] [--seed 7] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
import traceback
from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
from rich import box
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

RESULTS = Path(__file__).parent / "results"
AUC_MARGIN, ECE_TARGET = 0.02, 0.02
HEADLINE = ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top10")
BASELINES = ("rules", "logistic", "pooled")
REFERENCE, REFERENCE_RAW = "reference", "reference (raw)"
SNAPSHOT_COLUMNS = ("mrr", "seats", "billing_period_months", "days_to_renewal")
COUNT_WINDOWS = (30, 90)
MAX_EVENT_TYPES = 50  # the most frequent ones; enough for any product's event vocabulary
REFERENCE_ROUNDS, REFERENCE_PATIENCE = 2000, 100
#: Vitals' untuned LightGBM defaults as of this benchmark, fixed here so the reference stays put
REFERENCE_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 300,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}
EPOCH = pd.Timestamp("1970-01-01")
WIDTH = 130  # columns when the output is not a terminal (a log, a pipe)


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def same_split(snapshots, settings, history_start: date | None):
    """The time split ``fit_and_evaluate`` makes of these snapshots (for a run that failed)."""
    from vitals.training.splits import training_split

    return training_split(snapshots, settings, history_start)


def event_type_counts(data_dir: Path, rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Events per event type over 30 and 90 days before each row's ``as_of``, with DuckDB.

    Args:
        data_dir: the data directory (its events table is read as the contract types it).
        rows: snapshot rows with ``account_id`` and a datetime ``as_of``.

    Returns:
        One column per (event type, window), aligned with ``rows``, and the event types.
    """
    from vitals.features.loader import load_dataset

    con = load_dataset(data_dir).con
    as_of_day = ((rows["as_of"] - EPOCH) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
    keys = pa.table(
        {
            "row_id": pa.array(np.arange(len(rows)), pa.int64()),
            "account_id": pa.array(rows["account_id"].astype(str).tolist(), pa.string()),
            "as_of_day": pa.array(as_of_day, pa.int64()),
        }
    )
    con.register("snap_keys", keys)
    first, last = int(as_of_day.min()) - max(COUNT_WINDOWS), int(as_of_day.max())
    day = "CAST(date_diff('day', DATE '1970-01-01', CAST(timestamp AS DATE)) AS BIGINT)"
    since = f"{day} >= {first} AND {day} < {last}"
    types = [
        t
        for (t, _) in con.execute(
            f"SELECT event_type, COUNT(*) AS n FROM events WHERE event_type IS NOT NULL "
            f"AND {since} GROUP BY 1 ORDER BY n DESC, event_type LIMIT {MAX_EVENT_TYPES}"
        ).fetchall()
    ]
    short, long = COUNT_WINDOWS
    counted = con.execute(
        f"WITH ev AS (SELECT account_id, {day} AS day, event_type, COUNT(*) AS n FROM events "
        f"WHERE event_type IS NOT NULL AND {since} GROUP BY 1, 2, 3) "
        f"SELECT k.row_id, e.event_type, "
        f"SUM(CASE WHEN e.day >= k.as_of_day - {short} THEN e.n ELSE 0 END) AS n_short, "
        f"SUM(e.n) AS n_long FROM snap_keys k JOIN ev e ON e.account_id = k.account_id "
        f"AND e.day < k.as_of_day AND e.day >= k.as_of_day - {long} GROUP BY 1, 2"
    ).fetch_df()
    con.close()
    column_of = {t: i for i, t in enumerate(types)}
    counted = counted[counted["event_type"].isin(column_of)]
    values = np.zeros((len(rows), 2 * len(types)))
    at = counted["event_type"].map(column_of).to_numpy(dtype=np.int64)
    row = counted["row_id"].to_numpy(dtype=np.int64)
    values[row, 2 * at] = counted["n_short"].to_numpy(dtype=np.float64)
    values[row, 2 * at + 1] = counted["n_long"].to_numpy(dtype=np.float64)
    names = [f"{_safe(t)}_{w}d" for t in types for w in COUNT_WINDOWS]
    if len(set(names)) < len(names):  # two event types that differ only in odd characters
        names = [f"type{i}_{w}d" for i in range(len(types)) for w in COUNT_WINDOWS]
    return pd.DataFrame(values, columns=names, index=rows.index), types


def _safe(event_type: str) -> str:
    """An event type as a LightGBM-safe column name part."""
    return re.sub(r"[^0-9A-Za-z_]", "_", event_type)[:40] or "blank"


def fit_reference(split, data_dir: Path, seed: int) -> dict:
    """Train, early-stop and Platt-scale the reference; score the test window.

    Returns:
        Test probabilities (raw and Platt) and the facts of the fit (features, trees, ...).
    """
    from vitals.training.data import labels

    parts = {"train": split.train, "calibration": split.calibration, "test": split.test}
    rows = pd.concat([p[["account_id", "as_of"]] for p in parts.values()], ignore_index=True)
    counts, types = event_type_counts(data_dir, rows)
    snapshot = [c for c in SNAPSHOT_COLUMNS if c in split.train.columns]
    matrices, start = {}, 0
    for name, part in parts.items():
        block = counts.iloc[start : start + len(part)].reset_index(drop=True)
        own = part[snapshot].astype("float64").reset_index(drop=True)
        matrices[name] = pd.concat([block, own], axis=1)
        start += len(part)
    y = {name: labels(part) for name, part in parts.items()}
    params = {
        "objective": "binary",
        "metric": "auc",
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        **REFERENCE_PARAMS,
    }
    train = lgb.Dataset(matrices["train"], y["train"])
    valid = lgb.Dataset(matrices["calibration"], y["calibration"], reference=train)
    booster = lgb.train(
        params,
        train,
        REFERENCE_ROUNDS,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(REFERENCE_PATIENCE, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    margin = {
        name: booster.predict(matrices[name], num_iteration=best, raw_score=True)
        for name in ("calibration", "test")
    }
    platt = LogisticRegression(C=1e6).fit(margin["calibration"].reshape(-1, 1), y["calibration"])
    return {
        "probabilities": {
            REFERENCE_RAW: 1.0 / (1.0 + np.exp(-margin["test"])),
            REFERENCE: platt.predict_proba(margin["test"].reshape(-1, 1))[:, 1],
        },
        "facts": {
            "event_types": types,
            "features": list(matrices["train"].columns),
            "params": params,
            "trees": int(best),
            "validation_auc": float(booster.best_score["valid_0"]["auc"]),
            "platt": {"slope": float(platt.coef_[0][0]), "intercept": float(platt.intercept_[0])},
        },
    }


def read_reference_json(data_dir: Path) -> dict | None:
    """The data directory's ``reference.json``, if it has one."""
    path = data_dir / "reference.json"
    return json.loads(path.read_text()) if path.is_file() else None


def reference_goal(published: dict) -> float | None:
    """The AUC Vitals must reach on the published reference (its goal, else best + margin)."""
    goal = published.get("goal_for_vitals", {}).get("auc_at_least")
    if goal is not None:
        return float(goal)
    aucs = [m["auc"] for m in published.get("reference", {}).values() if isinstance(m, dict)]
    aucs = [a for a in aucs if isinstance(a, int | float)]
    return max(aucs) + AUC_MARGIN if aucs else None


def run(data_dir: Path, horizon: int, seed: int) -> dict:
    """Snapshots, one pipeline run (Vitals and baselines), the reference; metrics and timings."""
    from vitals.config.settings import get_settings
    from vitals.training.data import labels
    from vitals.training.metrics import classification_metrics
    from vitals.training.pipeline import fit_and_evaluate
    from vitals.training.train import training_snapshots  # exactly what `vitals train DIR` builds

    settings = get_settings()
    config = settings.training
    timings: dict[str, float] = {}
    started = time.perf_counter()
    snapshots, history_start, _ = training_snapshots(data_dir, None, horizon, settings)
    timings["snapshots_s"] = time.perf_counter() - started

    started = time.perf_counter()
    outcome, error = None, None
    try:
        outcome = fit_and_evaluate(snapshots, settings, seed=seed, history_start=history_start)
    except Exception as failure:
        error = {
            "message": f"{type(failure).__name__}: {failure}",
            "traceback": traceback.format_exc(),
        }
    timings["vitals_s"] = time.perf_counter() - started
    split = outcome.split if outcome else same_split(snapshots, settings, history_start)

    started = time.perf_counter()
    reference = fit_reference(split, data_dir, seed)
    timings["reference_s"] = time.perf_counter() - started

    y = labels(split.test)
    models = (
        {} if outcome is None else {k: v["overall"] for k, v in outcome.report["models"].items()}
    )
    for name, probability in reference["probabilities"].items():
        models[name] = classification_metrics(y, probability)
    return {
        "data": str(data_dir),
        "horizon_days": horizon,
        "seed": seed,
        "snapshot_every": config.snapshot_every,
        "snapshots": snapshots.table.num_rows,
        "windows": split.to_dict(),
        "test_window": split.windows["test"].to_dict(),
        "models": models,
        "reference_model": reference["facts"],
        "vitals_error": error,
        "report": None if outcome is None else outcome.report,
        "timings": timings,
    }


def checks_of(result: dict, published: dict | None) -> dict[str, bool]:
    """The PASS/FAIL targets."""
    models = result["models"]
    vitals = models.get("vitals")
    checks: dict[str, bool] = {}
    if vitals is None:
        checks[f"Vitals trains on this data ({result['vitals_error']['message']})"] = False
    auc = None if vitals is None else vitals["auc"]
    for name in (*BASELINES, REFERENCE):
        other = models.get(name, {}).get("auc")
        checks[f"Vitals AUC >= {name} AUC + {AUC_MARGIN}"] = (
            auc is not None and other is not None and auc >= other + AUC_MARGIN
        )
    goal = None if published is None else reference_goal(published)
    if goal is not None:
        checks[f"Vitals AUC >= reference.json goal {goal:.3f}"] = auc is not None and auc >= goal
    checks[f"overall ECE <= {ECE_TARGET}"] = vitals is not None and vitals["ece"] <= ECE_TARGET
    return checks


def render(console: Console, result: dict, published: dict | None, checks: dict) -> None:
    """Print the table, the published reference and the PASS/FAIL lines."""
    window = result["test_window"]
    title = (
        f"{Path(result['data']).name}: out-of-time test window {window['start']} to "
        f"{window['end']}, {window['snapshots']:,} snapshots, {window['churners']:,} churners "
        f"(horizon {result['horizon_days']}, seed {result['seed']})"
    )
    timings = result["timings"]
    caption = (
        f"wall {timings['total_s']:.1f} s (snapshots {timings['snapshots_s']:.1f} s, Vitals + "
        f"baselines {timings['vitals_s']:.1f} s, reference {timings['reference_s']:.1f} s); "
        f"peak memory {result['peak_rss_gb']:.2f} GB"
    )
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD)
    table.add_column("model")
    for metric in HEADLINE:
        table.add_column(metric.replace("_top10", "@10"), justify="right")
    for column in ("snapshots", "churners", "Vitals ΔAUC"):
        table.add_column(column, justify="right")
    models = result["models"]
    ours = models.get("vitals", {}).get("auc")
    for name in ("vitals", *BASELINES, REFERENCE, REFERENCE_RAW):
        metrics = models.get(name)
        if metrics is None:
            table.add_row(name, *["failed"] * len(HEADLINE), "", "", "")
            continue
        delta = "" if name == "vitals" or ours is None else f"{ours - metrics['auc']:+.4f}"
        table.add_row(
            name,
            *("-" if metrics[m] is None else f"{metrics[m]:.4f}" for m in HEADLINE),
            f"{metrics['snapshots']:,}",
            f"{metrics['churners']:,}",
            delta,
        )
    console.print(table)
    facts = result["reference_model"]
    console.print(
        f"reference: LightGBM, {facts['trees']} trees (validation AUC "
        f"{facts['validation_auc']:.4f}), {len(facts['event_types'])} event types x "
        f"{'/'.join(map(str, COUNT_WINDOWS))} days + {', '.join(SNAPSHOT_COLUMNS)}"
    )
    if published is not None:
        console.print(published_line(published, window))
    if result["vitals_error"] is not None:
        console.print(f"[red]Vitals run failed:[/red] {result['vitals_error']['message']}")
    for check, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {check}")


def published_line(published: dict, window: dict) -> str:
    """The reference.json values in one line, noting a different test window."""
    parts = [
        f"{name} AUC {m['auc']}" + (f", Brier {m['brier']}" if "brier" in m else "")
        for name, m in published.get("reference", {}).items()
        if isinstance(m, dict) and "auc" in m
    ]
    line = f"reference.json: {'; '.join(parts)}"
    theirs = published.get("test_window")
    if theirs:
        line += f" on test window {theirs[0]} to {theirs[1]}"
        if "test_snapshots" in published:
            line += f" ({published['test_snapshots']:,} snapshots)"
        if list(theirs) != [window["start"], window["end"]]:
            line += f"; this run's is {window['start']} to {window['end']}"
    goal = published.get("goal_for_vitals")
    if goal:
        line += "; goal: " + ", ".join(f"{k} {v}" for k, v in goal.items())
    return line


def main() -> None:
    """Run the benchmark, print the table and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data directory")
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, help="JSON result (default: results/...)")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else WIDTH)
    if not args.data.is_dir():
        parser.error(f"--data {args.data}: no such directory")
    data_dir = args.data.resolve()
    output = args.output or RESULTS / f"external-{data_dir.name}.json"

    started = time.perf_counter()
    result = run(data_dir, args.horizon, args.seed)
    result["timings"]["total_s"] = time.perf_counter() - started
    result["peak_rss_gb"] = peak_rss_gb()
    published = read_reference_json(data_dir)
    checks = checks_of(result, published)
    render(console, result, published, checks)
    document = {**result, "reference_json": published, "checks": checks}
    document["targets"] = {"auc_margin": AUC_MARGIN, "ece": ECE_TARGET}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, default=_jsonable))
    console.print(f"wrote {output}")
    if result["vitals_error"] is not None:
        sys.exit(1)


def _jsonable(value: object) -> object:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


if __name__ == "__main__":
    main()
