"""``vitals train``, ``evaluate`` and ``promote``: thin wrappers over :mod:`vitals.training.train`.

Wire them into the main CLI with ``app.add_typer(training.app)`` (the commands appear at
the top level). Every expected failure prints a one-line error and exits with status 1.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich import box
from rich.table import Table

from vitals.cli.console import console, fail, output_file

app = typer.Typer(pretty_exceptions_enable=False)
T = TypeVar("T")


@app.command()
def train(
    data_dir: Annotated[Path, typer.Argument(help="data directory (Parquet or CSV per table)")],
    features: Annotated[
        Path | None,
        typer.Option(help="snapshot file: read if it exists, else built from DATA_DIR and kept"),
    ] = None,
    horizon: Annotated[
        int | None, typer.Option(min=1, help="churn horizon in days (default: settings, 90)")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=0, help="Optuna trials per booster (0: defaults)")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="tuning time budget for the run, seconds")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    register: Annotated[
        bool, typer.Option("--register", help="register as vitals-health@challenger")
    ] = False,
) -> None:
    """Train per-profile calibrated LightGBM models, evaluate out of time, log to MLflow."""
    from vitals.training.train import train as run_training

    if features is not None:
        try:
            output_file(features, "--features")
        except ValueError as exc:
            raise fail(str(exc)) from None
    result = _guard(
        lambda: run_training(
            data_dir,
            features=features,
            horizon_days=horizon,
            trials=trials,
            timeout_s=timeout,
            experiment=experiment,
            seed=seed,
            register=register,
        )
    )
    print_report(result.report)
    registered = f", registered as version {result.version} (challenger)" if result.version else ""
    console.print(f"run {result.run_id}{registered}; model {result.model_uri}")


@app.command()
def evaluate(
    run: Annotated[str | None, typer.Option(help="MLflow run id")] = None,
    model: Annotated[
        str | None, typer.Option(help="registered alias, e.g. champion or challenger")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="experiment searched for the latest run")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift", help="add the drift of the model (default: the served one) over the store"
        ),
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="with --drift: compute calibration drift from DATA's outcomes, store it"),
    ] = None,
) -> None:
    """Print the evaluation report of a run, an alias, or (by default) the latest training run."""
    from vitals.training.train import evaluate as load

    if run is not None and model is not None:
        raise fail("give --run or --model, not both")
    report = _guard(lambda: load(run_id=run, alias=model, experiment=experiment))
    if drift or data is not None:
        from vitals.cli.drift_section import drift_section

        report = {**report, "drift": _guard(lambda: drift_section(model, run, data))}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        print_report(report)
        if "drift" in report:
            from vitals.cli.drift_section import print_drift

            print_drift(report["drift"])


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Option(help="version to promote (default: the challenger)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="promote even if worse than the champion")
    ] = False,
) -> None:
    """Move the champion alias to a version that is not worse than the current champion."""
    from vitals.training.train import promote as run_promotion

    done = _guard(lambda: run_promotion(version, force=force))
    before = f" (was version {done.previous})" if done.previous else " (first champion)"
    forced = " [forced]" if done.forced else ""
    console.print(f"{done.name}@champion -> version {done.version}{before}{forced}")


def _guard(action: Callable[[], T]) -> T:
    from vitals.training.errors import PromotionRefused, TrackingError, TrainingError

    if not logging.getLogger().isEnabledFor(logging.INFO):  # MLflow's own handler, unless -v
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    try:
        return action()
    except (TrainingError, TrackingError, PromotionRefused) as error:
        raise fail(str(error)) from None


def print_report(report: dict) -> None:
    from vitals.training.evaluate import summary_rows

    window = report["test_window"]
    console.print(
        f"test window {window['start']} to {window['end']}, horizon {report['horizon_days']} days"
    )
    sections = [("overall", None)] + [(p, p) for p in report["profiles"]]
    for label, profile in sections:
        rows = summary_rows(report, profile)
        if not rows:
            continue
        kind = "" if profile is None else _profile_kind(report["profiles"][profile])
        title = (
            f"{label}{kind}: {rows[0]['snapshots']:,} snapshots, {rows[0]['churners']:,} churners"
        )
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("model", no_wrap=True)
        for header in _COLUMNS.values():
            table.add_column(header, justify="right")
        for row in rows:
            table.add_row(row["model"], *(_cell(row[m]) for m in _COLUMNS))
        console.print(table)
    _print_survival(report.get("survival"))
    _print_sentiment(report.get("sentiment"))
    _print_features(report.get("features"))


def _print_sentiment(facts: dict | None) -> None:
    """How well the CSM's ratings alone foretold churn, beside Vitals on the same rows."""
    if not facts or not facts.get("available") or not facts["rated_rows"]:
        return
    rates = ", ".join(
        f"{name} {_cell(v['churn_rate'])} ({v['rows']:,})"
        for name, v in facts["by_rating"].items()
        if v["rows"]
    )
    console.print(
        f"CSM sentiment alone: AUC {_cell(facts['auc'])} on the {facts['rated_rows']:,} rated "
        f"test rows ({facts['rated_share']:.0%}); Vitals {_cell(facts['vitals_auc_same_rows'])} "
        f"on the same rows. Churn rate by rating: {rates}"
    )


def _print_survival(survival: dict | None) -> None:
    """The risk curve per horizon, its integrated Brier score and D-calibration."""
    if not survival or not survival.get("available"):
        return
    table = Table(title="risk curve by horizon", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("horizon", "rows followed up", "AUC", "ECE", "time-dependent AUC"):
        table.add_column(column, justify="left" if column == "horizon" else "right")
    for horizon, facts in survival["horizons"].items():
        table.add_row(
            horizon,
            f"{facts['rows_followed_up']:,}",
            *(_cell(facts.get(k)) for k in ("auc", "ece", "time_dependent_auc")),
        )
    console.print(table)
    brier, dcal = survival["integrated_brier"], survival["d_calibration"]
    first, last = brier["days"]
    console.print(
        f"integrated Brier score, days {first}-{last}: {_cell(brier['vitals'])} "
        f"(Kaplan-Meier {_cell(brier['kaplan_meier'])}); D-calibration p = {dcal['p_value']:.3g}"
    )


def _print_features(facts: dict | None) -> None:
    """What the boosters could use, and which features did no better than a shuffled copy."""
    if not facts:
        return
    weak = facts["null_importance"]["not_above_shadow"]
    shown = ", ".join(weak[:12]) + (f" and {len(weak) - 12} more" if len(weak) > 12 else "")
    console.print(
        f"features: {facts['used']:,} of {facts['declared']:,} used "
        f"({len(facts['dropped'])} without variation in the training window); "
        f"{len(weak)} no more important than a shuffled copy of themselves"
        + (f": {shown}" if weak else "")
    )


_COLUMNS = {
    "auc": "AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
    "log_loss": "logloss",
    "ece": "ECE",
    "lift_top10": "lift@10%",
    "recall_top10": "recall@10%",
}


def _profile_kind(facts: dict) -> str:
    booster = "pooled booster" if facts["pooled"] else "own booster"
    return f" ({booster}, {facts['calibration']['method']} calibration)"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
