"""The drift section of ``vitals evaluate --drift``: compute it, and print it.

Without ``--data`` the section shows feature drift over the health store now, and the calibration
drift last stored for the model. With ``--data DIR`` the calibration drift is computed from that
data directory's outcomes, and the whole report is stored, so that ``GET /v1/model/drift`` shows
it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vitals.cli.console import console, fail
from vitals.config.settings import Settings, get_settings

SHOWN_FEATURES = 15
SHOWN_WARNINGS = 5
_STYLE = {"ok": "green", "warning": "yellow", "alert": "bold red", "unavailable": "dim"}


def drift_section(
    alias: str | None,
    run: str | None,
    data_dir: Path | None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The drift report of a model over the health store, as JSON data.

    Args:
        alias: a registered alias of the model (first choice).
        run: a training run, whose logged model is used without an alias.
        data_dir: a data directory to compute calibration drift from (the report is then stored);
            ``None`` takes the calibration drift last stored.
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).

    Raises:
        typer.Exit: after a one-line error (no model, no store, bad data).
    """
    from vitals.features.pipeline import PipelineError, load_valid_dataset
    from vitals.serving.batch import ScoringError, load_model
    from vitals.serving.drift import assess_drift, save_report
    from vitals.serving.store import HealthStore, StoreError
    from vitals.training.train import MODEL_ARTIFACT

    settings = settings or get_settings()
    spec = alias or (run and f"runs:/{run}/{MODEL_ARTIFACT}") or settings.serving.model
    try:
        _store_exists(settings.database_url)
        loaded = load_model(spec)
        store = HealthStore.open(settings.database_url, migrate=data_dir is not None)
        try:
            # the warnings are printed with the section, not logged besides
            if data_dir is None:
                report = assess_drift(
                    store, loaded.model, loaded.version, settings.drift, log=False
                )
            else:
                dataset = load_valid_dataset(data_dir)
                try:
                    report = assess_drift(
                        store,
                        loaded.model,
                        loaded.version,
                        settings.drift,
                        source=dataset,
                        log=False,
                    )
                finally:
                    dataset.con.close()
                save_report(store, report)
        finally:
            store.close()
    except (ValueError, ScoringError, PipelineError, StoreError) as exc:
        raise fail(f"drift: {exc}") from None
    return report.to_dict(bins=False)


def print_drift(report: dict[str, Any]) -> None:
    """Print a drift report (from :func:`drift_section`): status, warnings, PSI, calibration."""
    status = report["status"]
    console.print(
        f"drift of model {report['model_version']}: [{_STYLE[status]}]{status}[/]", highlight=False
    )
    warnings = report["warnings"]
    for warning in warnings[:SHOWN_WARNINGS]:
        console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
    if len(warnings) > SHOWN_WARNINGS:
        console.print(
            f"  ... and {len(warnings) - SHOWN_WARNINGS} more warnings (--json lists all)"
        )
    _print_features(report["features"], report["limits"])
    _print_calibration(report["calibration"])


def _print_features(section: dict[str, Any], limits: dict[str, Any]) -> None:
    if not section["available"]:
        console.print(f"feature drift unavailable: {section['reason']}", highlight=False)
        return
    features = section["features"]
    title = (
        f"feature drift (PSI), training window vs {section['as_of']} ({section['rows']:,} "
        f"accounts); warn from {limits['psi_warn']}, alert from {limits['psi_alert']}"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("feature", "kind", "PSI", "status"):
        table.add_column(column, justify="right" if column == "PSI" else "left")
    for row in features[:SHOWN_FEATURES]:
        psi = "-" if row["psi"] is None else f"{row['psi']:.4f}"
        table.add_row(row["feature"], row["kind"], psi, _styled(row["status"]))
    console.print(table)
    if len(features) > SHOWN_FEATURES:
        console.print(f"... and {len(features) - SHOWN_FEATURES} features with a lower PSI")
    if section["not_stored"]:
        console.print(f"not in the stored vectors: {', '.join(section['not_stored'])}")


def _print_calibration(section: dict[str, Any]) -> None:
    if not section["available"]:
        console.print(f"calibration drift unavailable: {section['reason']}", highlight=False)
        return
    dates = section["dates"]
    title = (
        f"calibration drift, {section['horizon_days']}-day churn, scores dated {dates[0]} to "
        f"{dates[-1]} (computed {section['computed_at']})"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("profile", "scores", "predicted", "observed", "gap", "ECE", "status"):
        table.add_column(column, justify="left" if column in ("profile", "status") else "right")
    rows = [("all", section["overall"]), *section["profiles"].items()]
    for name, gap in rows:
        table.add_row(
            name,
            f"{gap['count']:,}",
            f"{gap['predicted']:.2%}",
            f"{gap['observed']:.2%}",
            f"{gap['gap']:+.4f}",
            f"{gap['ece']:.4f}",
            _styled(gap["status"]),
        )
    console.print(table)
    if section["unmatched"]:
        console.print(f"{section['unmatched']:,} stored scores had no known outcome in the data")


def _styled(status: str) -> str:
    return f"[{_STYLE[status]}]{status}[/]"


def _store_exists(database_url: str) -> None:
    """Refuse a SQLite store file that does not exist (opening it would create an empty one).

    Raises:
        ValueError: naming the missing file.
    """
    try:
        url = make_url(database_url)
    except ArgumentError:
        return  # opening the store reports it
    path = url.database
    on_disk = url.get_backend_name() == "sqlite" and path and path != ":memory:"
    if on_disk and not Path(path).is_file():
        raise ValueError(f"no health store at {path}: run `vitals score DATA_DIR` first")
