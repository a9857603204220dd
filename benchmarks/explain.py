"""Speed of predict + top-5 reasons, against LightGBM's native pred_contrib and shap.TreeExplainer.

Usage::

    .venv/bin/python benchmarks/explain.py                 # stand-in model fitted on generated data
    .venv/bin/python benchmarks/explain.py --model DIR     # a saved HealthModel directory

Targets: predict + top-5 reasons for 10,000 accounts under 5 s, one account under 3 ms median;
reasons for change (baseline Shapley against the earlier snapshot) for 10,000 account pairs under
5 s, one pair under 1 ms median, timed beside ``shap``'s interventional explainer. The same
rows and boosters are also explained by LightGBM's ``pred_contrib`` and by ``shap.TreeExplainer``
(on a subset, ``--shap-rows``, reported per account). Prints a table and writes
``benchmarks/results/explain.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap
from rich.console import Console
from rich.table import Table
from stand_in_model import SEGMENTS, fit_stand_in, make_frame

from vitals.features.build import read_snapshots
from vitals.models.core import encoded
from vitals.models.health_model import HealthModel
from vitals.models.treeshap import TreeShap


def rows_per_profile(
    model: HealthModel, frame: pd.DataFrame
) -> list[tuple[TreeShap, lgb.Booster, np.ndarray]]:
    """Explainer, booster and the float matrix of each profile's rows, as the model builds them."""
    rows = model._rows(frame)
    return [
        (
            model.profiles_[name].shap,
            model.profiles_[name].piece.booster,
            encoded(rows, model._layout, model.profiles_[name], at),
        )
        for name, at in rows.groups
    ]


def timed(fn, repeats: int = 1) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def median_single(fn, frames: list[pd.DataFrame]) -> float:
    times = []
    for one in frames:
        start = time.perf_counter()
        fn(one)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def shap_values(explainer: shap.TreeExplainer, X: np.ndarray) -> np.ndarray:
    values = np.asarray(explainer.shap_values(X))
    return values[-1] if values.ndim == 3 else values


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, help="saved HealthModel directory (default: stand-in)"
    )
    parser.add_argument("--snapshots", type=Path, help="real snapshot rows (vitals features)")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=200, help="one-account calls to time")
    parser.add_argument("--shap-rows", type=int, default=1_000, help="rows for shap.TreeExplainer")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--features", type=int, default=97, help="numeric stand-in features")
    parser.add_argument("--save-model", type=Path, help="also save the stand-in model here")
    results = Path(__file__).parent / "results" / "explain.json"
    parser.add_argument("--output", type=Path, default=results)
    args = parser.parse_args()

    start = time.perf_counter()
    if args.model:
        model, source = HealthModel.load(args.model), f"saved model {args.model}"
    else:
        model = fit_stand_in(30_000, args.trees, args.leaves, args.features)
        size = f"{args.features + 3} features, {args.trees} trees x {args.leaves} leaves"
        source = f"stand-in: 3 profiles, {size}"
        if args.save_model:
            model.save(args.save_model)
    setup = time.perf_counter() - start
    segments = sorted({s for r in model.routing for s in r.segments}) or SEGMENTS
    levels = dict(next(iter(model.profiles_.values())).piece.categories or {})
    if args.snapshots:
        rows = read_snapshots(args.snapshots).to_pandas()
        frame = rows.sample(n=min(args.accounts, len(rows)), random_state=42, replace=False)
    else:
        frame = make_frame(
            list(model.catalog_.values()), args.accounts, seed=42, segments=segments, levels=levels
        )
    singles = [frame.iloc[[i]] for i in range(args.single)]
    model.explain(frame.iloc[:100], top_k=5)  # compile / warm up

    results: dict[str, float] = {}
    results["explain_10k_s"] = timed(lambda: model.explain(frame, top_k=5), repeats=2)
    results["predict_10k_s"] = timed(lambda: model.predict(frame), repeats=2)
    results["explain_one_ms"] = 1e3 * median_single(
        lambda one: model.explain(one, top_k=5), singles
    )
    results["predict_one_ms"] = 1e3 * median_single(model.predict, singles)

    parts = rows_per_profile(model, frame)
    results["ours_contrib_10k_s"] = timed(
        lambda: [e.contributions(X) for e, _, X in parts], repeats=2
    )
    results["lgb_contrib_10k_s"] = timed(
        lambda: [b.predict(X, pred_contrib=True) for _, b, X in parts]
    )
    per_part = max(1, args.single // len(parts))
    one_rows = [(e, b, X[i : i + 1]) for e, b, X in parts for i in range(min(len(X), per_part))]
    results["ours_contrib_one_ms"] = 1e3 * float(
        np.median([timed(lambda e=e, x=x: e.contributions(x)) for e, _, x in one_rows])
    )
    results["lgb_contrib_one_ms"] = 1e3 * float(
        np.median(
            [
                timed(lambda b=b, x=x: b.predict(x, pred_contrib=True, num_threads=1))
                for _, b, x in one_rows
            ]
        )
    )
    max_diff = max(
        float(np.abs(e.contributions(X[:500]) - b.predict(X[:500], pred_contrib=True)).max())
        for e, b, X in parts
    )
    shap_parts = [
        (e, shap.TreeExplainer(b), X[: max(1, args.shap_rows * len(X) // len(frame))])
        for e, b, X in parts
    ]
    shap_rows = sum(len(X) for _, _, X in shap_parts)
    shap_seconds = timed(lambda: [shap_values(s, X) for _, s, X in shap_parts])
    results["shap_10k_s_extrapolated"] = shap_seconds * len(frame) / shap_rows
    shap_one = [(s, X[i : i + 1]) for _, s, X in shap_parts for i in range(min(len(X), 20))]
    results["shap_one_ms"] = 1e3 * float(
        np.median([timed(lambda s=s, x=x: shap_values(s, x)) for s, x in shap_one])
    )
    max_diff_shap = max(
        float(np.abs(e.contributions(X)[:, :-1] - shap_values(s, X)).max())
        for e, s, X in shap_parts
    )

    # reasons for change: baseline Shapley of each account against its earlier snapshot
    earlier = [(e, b, X, np.roll(X, 1, axis=0)) for e, b, X in parts]
    results["change_pairs_10k_s"] = timed(
        lambda: [e.change(X, Z) for e, _, X, Z in earlier], repeats=2
    )
    one_pairs = [(e, b, X[i : i + 1], Z[i : i + 1]) for e, b, X, Z in earlier for i in range(20)]
    results["change_pair_one_ms"] = 1e3 * float(
        np.median([timed(lambda e=e, x=x, z=z: e.change(x, z)) for e, _, x, z in one_pairs])
    )
    frame_then = frame.sample(frac=1.0, random_state=7).assign(
        account_id=frame["account_id"].to_numpy(), segment=frame["segment"].to_numpy()
    )
    results["explain_change_10k_s"] = timed(
        lambda: model.explain_change(frame_then, frame, top_k=5), repeats=2
    )
    # timing only: shap's interventional explainer misreads LightGBM's categorical splits (its
    # additivity check fails on these boosters); tests/models/test_baseline_shap.py compares the
    # values with it on numeric boosters
    interventional = [
        (shap.TreeExplainer(b, data=z, feature_perturbation="interventional"), x)
        for _, b, x, z in one_pairs[:: max(1, len(one_pairs) // 10)]
    ]
    results["shap_change_one_ms"] = 1e3 * float(
        np.median(
            [
                timed(lambda s=s, x=x: s.shap_values(x, check_additivity=False))
                for s, x in interventional
            ]
        )
    )

    trees = {n: p.piece.booster.num_trees() for n, p in model.profiles_.items()}
    report = {
        "model": source,
        "setup_s": setup,
        "accounts": len(frame),
        "features": len(model.feature_names_),
        "trees_per_profile": trees,
        "pooled_profiles": [n for n, p in model.profiles_.items() if p.piece.pooled],
        "load_average_1min_at_end": os.getloadavg()[0],
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "lightgbm": lgb.__version__,
            "shap": shap.__version__,
        },
        "results": results,
        "targets": {
            "explain_10k_s": 5.0,
            "explain_one_ms": 3.0,
            "change_pairs_10k_s": 5.0,
            "change_pair_one_ms": 1.0,
        },
        "ratios": {
            "lgb_over_ours_10k": results["lgb_contrib_10k_s"] / results["ours_contrib_10k_s"],
            "shap_over_ours_10k": results["shap_10k_s_extrapolated"]
            / results["ours_contrib_10k_s"],
            "lgb_over_ours_one": results["lgb_contrib_one_ms"] / results["ours_contrib_one_ms"],
            "shap_over_ours_one": results["shap_one_ms"] / results["ours_contrib_one_ms"],
        },
        "max_abs_diff_vs_lgb_pred_contrib": max_diff,
        "max_abs_diff_vs_shap": max_diff_shap,
        "shap_rows_timed": shap_rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    _print(report)


def _print(report: dict) -> None:
    r, n = report["results"], report["accounts"]
    table = Table(title=f"explain benchmark -- {report['model']}")
    for column in ("what", f"{n:,} accounts", "one account (median)", "accounts / s", "target"):
        table.add_column(column, justify="right" if column != "what" else "left")
    rows = [
        (
            "HealthModel.explain (predict + top-5 reasons)",
            r["explain_10k_s"],
            r["explain_one_ms"],
            "< 5 s / < 3 ms",
        ),
        ("HealthModel.predict", r["predict_10k_s"], r["predict_one_ms"], ""),
        (
            "TreeSHAP kernel (vitals.models.treeshap)",
            r["ours_contrib_10k_s"],
            r["ours_contrib_one_ms"],
            "",
        ),
        ("LightGBM pred_contrib", r["lgb_contrib_10k_s"], r["lgb_contrib_one_ms"], ""),
        (
            "change kernel, baseline Shapley (TreeShap.change)",
            r["change_pairs_10k_s"],
            r["change_pair_one_ms"],
            "< 5 s / < 1 ms",
        ),
        (
            "HealthModel.explain_change (top-5 measures)",
            r["explain_change_10k_s"],
            float("nan"),
            "",
        ),
        (
            "shap interventional, one reference row (scaled)",
            r["shap_change_one_ms"] * n / 1e3,
            r["shap_change_one_ms"],
            "",
        ),
        (
            f"shap.TreeExplainer ({report['shap_rows_timed']} rows, scaled)",
            r["shap_10k_s_extrapolated"],
            r["shap_one_ms"],
            "",
        ),
    ]
    for what, batch, one, target in rows:
        one_text = f"{one:.2f} ms" if one == one else "-"
        table.add_row(what, f"{batch:.2f} s", one_text, f"{n / batch:,.0f}", target)
    console = Console(width=130)
    console.print(table)
    q = report["ratios"]
    console.print(
        f"LightGBM pred_contrib / ours: {q['lgb_over_ours_10k']:.1f}x batch, "
        f"{q['lgb_over_ours_one']:.1f}x one; "
        f"shap / ours: {q['shap_over_ours_10k']:.1f}x batch, {q['shap_over_ours_one']:.1f}x one. "
        f"Max |ours - pred_contrib| = {report['max_abs_diff_vs_lgb_pred_contrib']:.1e}, "
        f"max |ours - shap| = {report['max_abs_diff_vs_shap']:.1e}. "
        f"Trees: {report['trees_per_profile']}."
    )


if __name__ == "__main__":
    main()
