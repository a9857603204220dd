"""The ``vitals`` command line: one sub-command per job, each a thin layer over a public API."""

from __future__ import annotations

import logging
import os
import types
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from vitals.cli.console import console, crash, fail, output_dir, parse_date
from vitals.config.settings import get_settings

_VERBOSE = "vitals.verbose"


class _Commands(TyperGroup):
    """The top-level group: an unexpected error in any command is reported in one line.

    Expected failures exit through :func:`~vitals.cli.console.fail` (``typer.Exit``) or as usage
    errors; anything else is a bug: :func:`~vitals.cli.console.crash` names the command and the
    error, saves the traceback to a file, and prints it too under ``--verbose``.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except Exception as error:
            verbose = bool(ctx.meta.get(_VERBOSE))
            raise crash(_command_path(error, ctx), error, verbose) from None


def _command_path(error: BaseException, root: Any) -> str:
    """``vitals <command> [<sub-command>]``: the innermost command the error went through."""
    innermost = root
    tb: types.TracebackType | None = error.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("ctx")
        if isinstance(candidate, type(root)):
            innermost = candidate
        tb = tb.tb_next
    names = []
    while innermost is not None and innermost is not root:
        names.append(innermost.info_name)
        innermost = innermost.parent
    return " ".join(["vitals", *reversed(names)])


app = typer.Typer(
    name="vitals",
    help="Machine-learning customer health: calibrated, explained churn scores per account.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Commands,
)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log progress; print tracebacks of bugs")
    ] = False,
):
    """Vitals command line."""
    ctx.meta[_VERBOSE] = verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # MLflow draws download bars for every model it loads: noise in a command's output
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="data directory to write")],
    accounts: Annotated[int, typer.Option(min=1, help="number of customer accounts")] = 1000,
    months: Annotated[int, typer.Option(min=1, help="months of history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Write a realistic sample data directory (a B2B SaaS customer base)."""
    from vitals.features.simulate import simulate as run_simulation
    from vitals.features.simulate import write_dataset

    if fmt not in ("parquet", "csv"):
        raise fail(f"--format {fmt!r}: choose parquet or csv")
    try:
        output_dir(out, "--out")
    except ValueError as exc:
        raise fail(str(exc)) from None
    tables = run_simulation(accounts=accounts, months=months, seed=seed)
    files = write_dataset(tables, out, fmt)  # type: ignore[arg-type]
    summary = Table(title=f"sample data in {out}")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    summary.add_column("file")
    for name, path in files.items():
        summary.add_row(name, f"{tables[name].num_rows:,}", path.name)
    console.print(summary)


@app.command()
def validate(
    data_dir: Annotated[Path, typer.Argument(help="data directory (Parquet or CSV per table)")],
    quarantine: Annotated[
        Path | None, typer.Option(help="write offending rows here and keep the rest")
    ] = None,
) -> None:
    """Check a data directory against the data contract; non-zero exit when a rule is broken."""
    from vitals.features.loader import DataContractError
    from vitals.features.validate import validate_dataset

    try:
        if quarantine is not None:
            output_dir(quarantine, "--quarantine")
        report = validate_dataset(data_dir, quarantine_dir=quarantine)
    except (DataContractError, ValueError) as exc:
        raise fail(str(exc)) from None
    report.render(console)
    if not report.ok and quarantine is None:
        raise typer.Exit(1)


@app.command()
def features(
    data_dir: Annotated[Path | None, typer.Argument(help="data directory")] = None,
    out: Annotated[Path | None, typer.Option(help="Parquet file to write")] = None,
    start: Annotated[str | None, typer.Option(help="first snapshot date (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last snapshot date (default: data end)")] = None,
    every: Annotated[str, typer.Option(help="step between snapshots: 7d, 14d, 1mo, ...")] = "1mo",
    horizon: Annotated[int, typer.Option(min=1, help="label horizon in days")] = 90,
    engine: Annotated[str, typer.Option(help="duckdb or spark")] = "duckdb",
    spark_master: Annotated[str, typer.Option(help="Spark master URL")] = "local[2]",
    list_: Annotated[
        bool, typer.Option("--list", help="print the feature catalog and exit")
    ] = False,
) -> None:
    """Build point-in-time feature snapshots with churn labels."""
    from vitals.features import pipeline

    if list_:
        _print_catalog(pipeline.catalog_preview())
        return
    if data_dir is None or out is None:
        raise fail("give DATA_DIR and --out FILE.parquet (or --list)")
    try:
        request = pipeline.SnapshotRequest(
            start=parse_date(start, "--start"),
            end=parse_date(end, "--end"),
            every=every,
            horizon_days=horizon,
            engine=engine,
            spark_master=spark_master,
            **pipeline.vocabulary_options(get_settings().features),
        )
        snapshots = pipeline.snapshots_to_file(data_dir, out, request)
    except (ValueError, pipeline.PipelineError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"wrote {out}: {snapshots.table.num_rows:,} snapshots x {len(snapshots.catalog)} features "
        f"({len(snapshots.table.column('as_of').unique())} dates, engine {snapshots.engine})"
    )


def _print_catalog(specs: list) -> None:
    table = Table(title="feature catalog")
    for col in ("name", "family", "window", "unit", "healthier", "description"):
        table.add_column(col)
    for spec in specs:
        better = {True: "more", False: "less", None: ""}[spec.higher_is_better]
        window = f"{spec.window_days}d" if spec.window_days else ""
        table.add_row(spec.name, spec.family, window, spec.unit, better, spec.description)
    console.print(table)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="folder for the sample data and outputs")] = Path(
        "demo"
    ),
    accounts: Annotated[int, typer.Option(min=50, help="sample size")] = 2000,
    months: Annotated[int, typer.Option(min=6, help="months of history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    serve: Annotated[bool, typer.Option(help="end by serving the API on 127.0.0.1:8000")] = True,
) -> None:
    """Run the main job end to end on built-in sample data."""
    from vitals.cli.demo import run_demo
    from vitals.features.pipeline import PipelineError
    from vitals.serving.batch import ScoringError
    from vitals.serving.store import StoreError
    from vitals.training.errors import TrackingError, TrainingError

    try:
        output_dir(workdir, "--workdir")
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        run_demo(workdir, accounts, months, seed, console, serve=serve)
    except (PipelineError, TrainingError, TrackingError, ScoringError, StoreError) as exc:
        raise fail(str(exc)) from None


def _register_stage_commands() -> None:
    """Add the commands that live beside their stage's CLI helpers (score, backfill, ...)."""
    from vitals.cli import accounts, ingest, scorecard, scoring, serving, training

    app.add_typer(training.app)
    app.add_typer(scoring.app)
    app.add_typer(serving.app)
    app.add_typer(accounts.app)
    app.add_typer(ingest.app)
    app.add_typer(scorecard.app, name="scorecard")


_register_stage_commands()

if __name__ == "__main__":  # `python -m vitals.cli.main`, as `vitals serve` starts `vitals worker`
    app()
