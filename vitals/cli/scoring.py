"""``vitals score`` and ``vitals backfill``: thin wrappers over :mod:`vitals.serving.batch`.

Wire them into the main app with ``app.add_typer(scoring.app)`` (no name: the commands
join the top level).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vitals.cli.console import console, err_console, fail, parse_date

if TYPE_CHECKING:
    from vitals.serving.batch import RunSummary

ProgressFn = Callable[[str, int, int], None]

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

DataDir = Annotated[Path, typer.Argument(help="data directory (Parquet or CSV per table)")]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="alias of the registered model vitals-health (champion, challenger), "
        "an MLflow model URI, or a saved model directory",
    ),
]
EngineOption = Annotated[str, typer.Option(help="duckdb or spark")]
MasterOption = Annotated[str, typer.Option(help="Spark master URL (with --engine spark)")]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="health store URL (default: VITALS_DATABASE_URL)"),
]
_STEPS = {"features": "building features", "scoring": "scoring", "publishing": "publishing"}


@app.command()
def score(
    data_dir: DataDir,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="date to score (default: the end of the data)")
    ] = None,
    model: ModelOption = "champion",
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = "local[2]",
    database_url: DatabaseOption = None,
) -> None:
    """Score every current customer as of a date and store scores, reasons and roll-ups."""
    from vitals.serving import batch

    try:
        day = parse_date(as_of, "--as-of")
    except ValueError as exc:
        raise fail(str(exc)) from None
    options = batch.RunOptions(model, engine, spark_master, database_url)
    print_summary(_run(lambda progress: batch.score(str(data_dir), day, options, progress)))


@app.command()
def backfill(
    data_dir: DataDir,
    days: Annotated[int, typer.Option(help="recompute the last N days of history")] = 180,
    every: Annotated[str, typer.Option(help="step between dates: 7d, 14d, 1mo, ...")] = "7d",
    model: ModelOption = "champion",
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = "local[2]",
    database_url: DatabaseOption = None,
) -> None:
    """Recompute the health history of the last N days and replace the stored one atomically."""
    from vitals.serving import batch

    options = batch.RunOptions(model, engine, spark_master, database_url)
    print_summary(
        _run(lambda progress: batch.backfill(str(data_dir), days, every, options, progress))
    )


def _run(job: Callable[[ProgressFn], RunSummary]) -> RunSummary:
    from vitals.features.pipeline import PipelineError
    from vitals.serving.batch import ScoringError
    from vitals.serving.store import StoreError

    try:
        with _progress() as progress:
            return job(progress)
    except (ValueError, ScoringError, PipelineError, StoreError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted: the stored history is unchanged", code=130) from None


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    """A progress callback drawing bars on a terminal, silent otherwise."""
    bars = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(_STEPS.get(step, step), total=total)
        bars.update(tasks[step], completed=done, total=total)

    with bars:
        yield update


def print_summary(summary: RunSummary) -> None:
    """Print a run's bands (accounts, contract value, revenue at risk) and biggest movers."""
    dates = summary.dates
    span = f"{dates[0]} to {dates[-1]} ({len(dates)} dates)" if len(dates) > 1 else str(dates[0])
    console.print(
        f"{summary.kind} run {summary.run_id}: {summary.n_scores:,} scores as of {span}, "
        f"model {summary.model_version}, engine {summary.engine}"
    )
    bands = Table(title=f"health as of {summary.as_of}")
    for column in ("band", "accounts", "contract value", "revenue at risk"):
        bands.add_column(column, justify="left" if column == "band" else "right")
    for band in sorted(summary.bands, key=lambda b: ("good", "average", "poor").index(b.band)):
        bands.add_row(band.band, f"{band.accounts:,}", f"{band.contract_value:,.0f}",
                      f"{band.revenue_at_risk:,.0f}")  # fmt: skip
    bands.add_row("total", f"{sum(b.accounts for b in summary.bands):,}",
                  f"{sum(b.contract_value for b in summary.bands):,.0f}",
                  f"{summary.revenue_at_risk:,.0f}", style="bold")  # fmt: skip
    console.print(bands)
    new = {k: n for k, n in summary.unseen.items() if n}
    if new:
        named = " and ".join(
            f"{n} {k.replace('_', ' ')}{'s' if n > 1 else ''}" for k, n in new.items()
        )
        console.print(f"ignored {named} that the model was not trained on (retrain to use them)")
    if summary.reference is None:
        console.print("no earlier scores stored: no movers to show")
        return
    movers = Table(title=f"biggest movers since {summary.reference}")
    for column in ("account", "score then", "score now", "change", "band"):
        movers.add_column(column, justify="left" if column in ("account", "band") else "right")
    for c in [*summary.fallers, *summary.risers]:
        movers.add_row(c.account_id, f"{c.score_then:.1f}", f"{c.score_now:.1f}",
                       f"{c.change:+.1f}", f"{c.band_then} -> {c.band_now}")  # fmt: skip
    console.print(movers)
