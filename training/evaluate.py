"""The evaluation report: every model scored on the same out-of-time test rows.

Schema (``schema_version`` 1; keys are stable, new keys may be added, none renamed)::

    {
      "schema": "vitals-evaluation-report",
      "schema_version": 1,
      "horizon_days": 90,                # label horizon of the run
      "seed": 7,
      "test_window": WINDOW,             # the rows every metric below is computed on
      "windows": {"gap_days": 90, "train": WINDOW, "calibration": WINDOW, "test": WINDOW},
      "models": {
        "vitals":   {"overall": METRICS, "profiles": {"<profile>": METRICS, ...}},
        "rules":    {...same shape...},  # rule-based weighted health score, Platt-calibrated
        "logistic": {...},               # logistic regression, same features
        "pooled":   {...}                # one pooled LightGBM without profiles
      },
      "comparison": {                    # Vitals minus each baseline, overall
        "<baseline>": {"auc_delta": float, "brier_delta": float,
                       "better_auc": bool, "better_brier": bool}, ...
      },
      "profiles": {"<profile>": FACTS, ..., "pooled": FACTS},
      "baselines": {"<baseline>": {"calibration": CALIBRATION}, ...},
      "scorecards": {                    # added by the training pipeline: every configured
        "<name>": {                      # scorecard (else the built-in default), same test rows
          "source": "<file>",
          "cards": {"<profile> | default": {"measures": ["<measure>", ...], "total_weight": float}},
          "dropped_measures": ["<measure>", ...],   # default card: features the data lack
          "overall": METRICS | null,     # auc, pr_auc, lift/recall_top10 rank by the score
          "profiles": {"<profile>": METRICS, ...},  # (low = risky); brier, log_loss, ece read
          "calibration": {"method": "sigmoid", "rows": int, "churners": int, "slope": float},
          "comparison": {"snapshots": int,          # Vitals minus the scorecard, on the rows
                         "auc_delta": float, "brier_delta": float,  # a card scores
                         "better_auc": bool, "better_brier": bool}
        }, ...                           # (see vitals.training.scorecard_eval)
      },
      "sentiment": {"available": bool,   # added by the training pipeline: the CSM's latest
        "rated_share": float, "rated_rows": int,     # rating alone, on the test rows rated
        "auc": float | null, "vitals_auc_same_rows": float | null,
        "by_rating": {"red" | "yellow" | "green" | "none": {"rows": int, "churn_rate": float}}},
      "features": {                      # added by the training pipeline
        "declared": int, "used": int,    # snapshot features, and those the boosters may use
        "dropped": {"<feature>": "empty" | "constant" | "sparse"},  # no variation, too few values
        "null_importance": {"rounds": int, "features": int,
                            "not_above_shadow": ["<feature>", ...],  # gain <= a shuffled copy's
                            "gain": {"<feature>": [gain, shadow_gain], ...}}
      }
    }

    WINDOW  = {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "dates": int, "snapshots": int,
               "churners": int}        # start/end: first and last as_of in the window
    METRICS = {"snapshots", "churners", "auc", "pr_auc", "brier", "log_loss", "ece",
               "lift_top10", "recall_top10"}   # see vitals.training.metrics; null where undefined
    FACTS   = {"pooled": bool, "train_snapshots": int, "train_churners": int,
               "calibration": CALIBRATION, "trees"?: int, "validation_auc"?: float,
               "init"?: "pooled" | "scratch", "tuning"?: {"trials", "pruned", "best_params"}}
    CALIBRATION = {"method": "isotonic" | "sigmoid", "rows": int, "churners": int,
                   "cv_log_loss": {"isotonic": float, "sigmoid": float}, "shared"?: true}

Per-profile metrics of every model use the profile the Vitals router assigns to each test row,
so the rows of ``models.<any>.profiles.<p>`` are the same for all models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from vitals.training.metrics import METRICS, classification_metrics
from vitals.training.splits import TimeSplit

SCHEMA = "vitals-evaluation-report"
SCHEMA_VERSION = 1
MODEL = "vitals"
BASELINES = ("rules", "logistic", "pooled")


def model_metrics(
    y: np.ndarray, probability: np.ndarray, profiles: np.ndarray, names: Sequence[str]
) -> dict[str, object]:
    """Overall and per-profile metrics of one model's test probabilities.

    Args:
        y: test outcomes.
        probability: the model's churn probability per test row.
        profiles: profile per test row.
        names: profiles to report, in order (a profile without test rows is left out).
    """
    per_profile = {
        n: classification_metrics(y[profiles == n], probability[profiles == n])
        for n in names
        if (profiles == n).any()
    }
    return {"overall": classification_metrics(y, probability), "profiles": per_profile}


def build_report(
    *,
    y: np.ndarray,
    profiles: np.ndarray,
    probabilities: Mapping[str, np.ndarray],
    profile_names: Sequence[str],
    split: TimeSplit,
    horizon_days: int,
    seed: int,
    profile_facts: Mapping[str, object],
    baseline_facts: Mapping[str, object],
) -> dict[str, object]:
    """Assemble the report (schema in the module docstring).

    Args:
        y: test outcomes.
        profiles: profile per test row.
        probabilities: churn probabilities per test row for ``vitals`` and each baseline.
        profile_names: profiles in routing order.
        split: the time split (windows are reported).
        horizon_days: label horizon.
        seed: the run's seed.
        profile_facts: per profile how it was fitted.
        baseline_facts: per baseline how it was calibrated.
    """
    models = {
        name: model_metrics(y, probabilities[name], profiles, profile_names)
        for name in (MODEL, *BASELINES)
    }
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "horizon_days": horizon_days,
        "seed": seed,
        "test_window": split.windows["test"].to_dict(),
        "windows": split.to_dict(),
        "models": models,
        "comparison": {
            b: _compare(models[MODEL]["overall"], models[b]["overall"]) for b in BASELINES
        },
        "profiles": dict(profile_facts),
        "baselines": dict(baseline_facts),
    }


def summary_rows(
    report: Mapping[str, object], profile: str | None = None
) -> list[dict[str, object]]:
    """One row per model, then per scorecard (overall, or for one profile), with the metrics.

    Args:
        report: an evaluation report.
        profile: a profile name, or ``None`` for the overall metrics.
    """
    rows = []
    scorecards: Mapping[str, dict] = report.get("scorecards", {})  # type: ignore[assignment]
    results = [*report["models"].items()]  # type: ignore[union-attr]
    results += [(f"card {n}", r) for n, r in scorecards.items()]
    for name, result in results:
        if result.get("overall") is None:
            continue
        values = result["overall"] if profile is None else result["profiles"].get(profile)
        if values is not None:
            rows.append({"model": name, **{k: values.get(k) for k in METRICS}})
    return rows


def _compare(ours: Mapping[str, object], theirs: Mapping[str, object]) -> dict[str, object]:
    auc = None if ours["auc"] is None or theirs["auc"] is None else ours["auc"] - theirs["auc"]
    brier = ours["brier"] - theirs["brier"]  # type: ignore[operator]
    return {
        "auc_delta": auc,
        "brier_delta": brier,
        "better_auc": auc is not None and auc > 0,
        "better_brier": brier < 0,
    }
