"""Health that says whether, risk that says when: the survival benchmark, on one or more data sets.

For each ``--data`` directory, one training pipeline run without MLflow (the snapshots ``vitals
train DIR`` builds, same settings), then on its out-of-time test window:

* per horizon (30, 90, 180, 365 days): rows followed up that long, AUC and ECE of the curve's
  risk, scikit-survival's time-dependent AUC; the fixed-horizon classifier (the curve's anchor,
  which is today's model) beside it at its horizon;
* the integrated Brier score of the curve against Kaplan-Meier per profile, and D-calibration;
* the calendar property: every test row with only its calendar moved on by 30, 60 and 90 days
  (tenure and days to renewal, routing included; behaviour held): median and p95 of the change of
  health, and the same for health read as ``100 * (1 - p)`` of the fixed-horizon classifier (the
  health score before the curve), and for the 90-day risk (which should move);
* training time: snapshots plus the pipeline (what ``vitals train DIR`` waits for) against the
  same without the survival pieces and their report, which are fitted again here on the run's
  split in one process to time them; and the fixed-horizon boosters alone against them.

Targets (PASS/FAIL lines): ECE <= 0.02 at every horizon with follow-up; the 90-day AUC at least
the classifier's; integrated Brier below Kaplan-Meier's; health moved by the calendar at most 1
point at the median and 3 at p95; boosters' training time within 1.5x.

    python benchmarks/survival.py --data DIR [--data DIR2 ...] [--seed 7] [--test-end DATE]
        [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
SHIFTS = (30, 60, 90)
ECE_TARGET, MEDIAN_POINTS, P95_POINTS, TIME_RATIO = 0.02, 1.0, 3.0, 1.5


def advance_frame(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """Rows with only their calendar moved ``days`` on (tenure, onboarding, days to renewal)."""
    from vitals.features.definitions import ONBOARDING_DAYS
    from vitals.models.calendar import renewal_after

    moved = frame.copy()
    moved["tenure_days"] = frame["tenure_days"] + days
    if "onboarding" in frame.columns:
        moved["onboarding"] = (moved["tenure_days"] < ONBOARDING_DAYS).astype(
            frame["onboarding"].dtype
        )
    if "days_to_renewal" in frame.columns:
        billing = frame.get("billing_period_months")
        moved["days_to_renewal"] = renewal_after(
            frame["days_to_renewal"].to_numpy(dtype=np.float64, na_value=np.nan),
            None if billing is None else billing.to_numpy(dtype=np.float64, na_value=np.nan),
            days,
        )
    return moved


def calendar_property(outcome) -> dict[str, dict[str, float]]:
    """Median and p95 of |change| per calendar shift: health, classifier health, 90-day risk."""

    test = outcome.split.test
    model = outcome.model
    now = model.predict(test)
    anchor_now = _anchor_health(model, test)
    result = {}
    for days in SHIFTS:
        moved_frame = advance_frame(test, days)
        later = model.predict(moved_frame)
        health = np.abs(later["health_score"].to_numpy() - now["health_score"].to_numpy())
        same = later["profile"].to_numpy() == now["profile"].to_numpy()
        anchor = np.abs(_anchor_health(model, moved_frame) - anchor_now)
        risk = np.abs(later["risk_90d"].to_numpy() - now["risk_90d"].to_numpy()) * 100
        result[f"{days}d"] = {
            "health_median": float(np.median(health)),
            "health_p95": float(np.percentile(health, 95)),
            "rows_changing_profile": int((~same).sum()),
            "same_profile_health_median": float(np.median(health[same])),
            "same_profile_health_p95": float(np.percentile(health[same], 95)),
            "classifier_health_median": float(np.median(anchor)),
            "classifier_health_p95": float(np.percentile(anchor, 95)),
            "risk90_points_median": float(np.median(risk)),
            "risk90_points_p95": float(np.percentile(risk, 95)),
        }
    return result


def _anchor_health(model, frame: pd.DataFrame) -> np.ndarray:
    """Health as the model before the curve read it: ``100 * (1 - p)`` of the classifier."""
    return 100.0 * (1.0 - model.predict(frame)["churn_probability"].to_numpy())


def booster_times(outcome, snapshots, settings, seed: int) -> dict[str, float]:
    """Seconds to fit the fixed-horizon boosters alone, and the survival pieces on top."""
    from vitals.models.profiles import ProfileRouter
    from vitals.training.assemble import profile_rules, unfitted_model
    from vitals.training.boosters import FitOptions, fit_boosters
    from vitals.training.data import categories_of
    from vitals.training.fit import base_params
    from vitals.training.survival import FollowUp, fit_survival
    from vitals.training.survival_report import survival_report

    split, config = outcome.split, settings.training
    features = outcome.model.feature_names_
    categorical = [n for n in features if n in outcome.model._layout.categorical]
    categories = categories_of(split.train, categorical)
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    params = base_params(config.lightgbm, seed=seed, num_threads=config.num_threads)
    options = FitOptions(params, config, 0, None, seed)
    started = time.perf_counter()
    anchor = fit_boosters(split, features, categories, router, settings.profiles, options)
    anchor_s = time.perf_counter() - started
    follow_up = FollowUp(snapshots.data_end, snapshots.grace_days, snapshots.horizon_days)

    def assemble(pieces):
        return unfitted_model(snapshots.feature_set, settings).fit(pieces)

    started = time.perf_counter()
    fit_survival(
        split,
        anchor,
        features,
        categories,
        router,
        settings.profiles,
        options,
        follow_up,
        assemble,
    )
    survival_s = time.perf_counter() - started
    started = time.perf_counter()
    survival_report(outcome.model, split, follow_up)
    report_s = time.perf_counter() - started
    return {
        "classifier_boosters_s": anchor_s,
        "survival_pieces_s": survival_s,
        "survival_report_s": report_s,
        "boosters_ratio": (anchor_s + survival_s) / anchor_s,
    }


def run(data_dir: Path, seed: int, test_end: date | None = None) -> dict:
    """One data set: pipeline run, survival report, calendar property, timings."""
    from vitals.config.settings import get_settings
    from vitals.training.pipeline import fit_and_evaluate
    from vitals.training.train import training_snapshots

    settings = get_settings()
    if test_end is not None:
        training = settings.training.model_copy(update={"test_end": test_end})
        settings = settings.model_copy(update={"training": training})
    started = time.perf_counter()
    snapshots, history_start, _ = training_snapshots(
        data_dir, None, settings.horizon_days, settings
    )
    snapshots_s = time.perf_counter() - started
    started = time.perf_counter()
    outcome = fit_and_evaluate(snapshots, settings, seed=seed, history_start=history_start)
    train_s = time.perf_counter() - started
    report = outcome.report
    timings = {
        "snapshots_s": snapshots_s,
        "fit_and_evaluate_s": train_s,
        **booster_times(outcome, snapshots, settings, seed),
    }
    # training as it was: the same run without the survival pieces and their report
    added = timings["survival_pieces_s"] + timings["survival_report_s"]
    timings["fit_ratio"] = train_s / (train_s - added)
    # what `vitals train DIR` waits for: snapshots, then the fit
    timings["training_ratio"] = (snapshots_s + train_s) / (snapshots_s + train_s - added)
    return {
        "data": str(data_dir),
        "seed": seed,
        "classifier_auc": report["models"]["vitals"]["overall"]["auc"],
        "survival": report["survival"],
        "calendar": calendar_property(outcome),
        "timings": timings,
    }


def checks_of(result: dict) -> dict[str, bool]:
    """PASS/FAIL per target."""
    survival = result["survival"]
    checks = {}
    for name, facts in survival["horizons"].items():
        if facts.get("ece") is not None:
            checks[f"ECE at {name} <= {ECE_TARGET}"] = facts["ece"] <= ECE_TARGET
    anchor = f"{survival['anchor_horizon_days']}d"
    auc = survival["horizons"][anchor].get("auc")
    checks[f"{anchor} AUC >= the classifier's"] = (
        auc is not None and auc >= result["classifier_auc"] - 1e-12
    )
    ibs = survival["integrated_brier"]
    checks["integrated Brier below Kaplan-Meier's"] = (
        ibs["vitals"] is not None
        and ibs["kaplan_meier"] is not None
        and ibs["vitals"] < ibs["kaplan_meier"]
    )
    for shift, facts in result["calendar"].items():
        checks[f"calendar +{shift}: health median <= {MEDIAN_POINTS}, p95 <= {P95_POINTS}"] = (
            facts["health_median"] <= MEDIAN_POINTS and facts["health_p95"] <= P95_POINTS
        )
    checks[f"training time within {TIME_RATIO}x"] = (
        result["timings"]["training_ratio"] <= TIME_RATIO
    )
    return checks


def render(console: Console, result: dict, checks: dict[str, bool]) -> None:
    """The data set's tables and its PASS/FAIL lines."""
    survival = result["survival"]
    table = Table(title=f"{result['data']}: risk by horizon (test window)")
    for column in (
        "horizon",
        "rows followed",
        "churners",
        "AUC",
        "ECE",
        "mean p",
        "observed",
        "td-AUC",
    ):
        table.add_column(column, justify="right")
    for name, f in survival["horizons"].items():
        table.add_row(
            name,
            str(f["rows_followed_up"]),
            str(f.get("churners", "-")),
            _fmt(f.get("auc")),
            _fmt(f.get("ece")),
            _fmt(f.get("mean_predicted")),
            _fmt(f.get("observed")),
            _fmt(f.get("time_dependent_auc")),
        )
    console.print(table)
    ibs, dcal = survival["integrated_brier"], survival["d_calibration"]
    console.print(
        f"classifier AUC at {survival['anchor_horizon_days']}d: {result['classifier_auc']:.4f}; "
        f"integrated Brier (days {ibs['days'][0]}-{ibs['days'][1]}): Vitals {_fmt(ibs['vitals'])}, "
        f"Kaplan-Meier {_fmt(ibs['kaplan_meier'])}; D-calibration p = {dcal['p_value']:.3g}"
    )
    cal = Table(title="calendar moved on, behaviour held: |change| in points")
    for column in (
        "shift",
        "health median",
        "health p95",
        "rows changing profile",
        "same-profile p95",
        "classifier-health median",
        "classifier-health p95",
        "90d risk median",
        "90d risk p95",
    ):
        cal.add_column(column, justify="right")
    for shift, f in result["calendar"].items():
        cal.add_row(
            shift,
            *(
                _fmt(f[k], 2)
                for k in (
                    "health_median",
                    "health_p95",
                    "rows_changing_profile",
                    "same_profile_health_p95",
                    "classifier_health_median",
                    "classifier_health_p95",
                    "risk90_points_median",
                    "risk90_points_p95",
                )
            ),
        )
    console.print(cal)
    t = result["timings"]
    console.print(
        f"training: snapshots {t['snapshots_s']:.1f} s + fit_and_evaluate "
        f"{t['fit_and_evaluate_s']:.1f} s, of which survival pieces "
        f"{t['survival_pieces_s']:.1f} s and their report {t['survival_report_s']:.1f} s: "
        f"{t['training_ratio']:.2f}x training without them ({t['fit_ratio']:.2f}x the fit alone); "
        "fixed-horizon boosters alone "
        f"{t['classifier_boosters_s']:.1f} s ({t['boosters_ratio']:.2f}x with the survival pieces)"
    )
    for name, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}")


def _fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--test-end",
        type=date.fromisoformat,
        help="last as_of of the test window (earlier than the default leaves the test rows "
        "followed up long enough to score the 180- and 365-day risk)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "survival.json")
    args = parser.parse_args()
    console = Console(width=140)
    results = []
    for data_dir in args.data:
        if not data_dir.is_dir():
            parser.error(f"--data {data_dir}: no such directory")
        result = run(data_dir, args.seed, args.test_end)
        checks = checks_of(result)
        render(console, result, checks)
        results.append({**result, "checks": checks})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
