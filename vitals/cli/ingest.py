"""``vitals ingest`` and ``vitals worker``: thin wrappers over :mod:`vitals.serving.ingest`.

Wire them into the main app with ``app.add_typer(ingest.app)`` (no name: the commands join the
top level).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from vitals.cli.console import console, err_console, fail
from vitals.config.settings import Settings, get_settings

if TYPE_CHECKING:
    from vitals.serving.ingest.rescoring import Step
    from vitals.serving.store import HealthStore

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

DataOption = Annotated[
    str | None,
    typer.Option("--data", help="the data directory the rows extend (default: ingest.data_dir)"),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="health store URL (default: VITALS_DATABASE_URL)"),
]
_SHOWN_REJECTIONS = 10
_SIGNAL_CHECK_S = 0.2  # how often `vitals worker` looks for a SIGTERM


@app.command()
def ingest(
    path: Annotated[
        Path,
        typer.Argument(
            help="a JSON file like the body of POST /v1/events, a <table>.csv or "
            "<table>.parquet file, or a directory of them (one batch)"
        ),
    ],
    data: DataOption = None,
    key: Annotated[
        str | None,
        typer.Option(help="idempotency key (default: a digest of the files: same files, once)"),
    ] = None,
) -> None:
    """Ingest rows into a data directory: checked like `vitals validate`, durably stored.

    Valid rows are kept and every later command sees them; rejected rows are listed with the
    rule and field. A running `vitals serve --data DIR` or `vitals worker` re-scores them.
    """
    from vitals.features.batch_check import BatchError
    from vitals.features.ingested import IdempotencyConflict
    from vitals.features.pipeline import PipelineError
    from vitals.serving.ingest.files import IngestFileError, read_rows
    from vitals.serving.ingest.ingestor import Ingestor, TooManyRows

    settings = _settings(data)
    try:
        rows, digest = read_rows(path)
        ingestor = Ingestor(_data_dir(settings), settings.ingest)
    except (IngestFileError, PipelineError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        result = ingestor.ingest(rows, key or f"file-{digest}", digest.encode())
    except (BatchError, IdempotencyConflict, TooManyRows) as exc:
        raise fail(str(exc)) from None
    finally:
        ingestor.close()
    what = "already ingested (same key): nothing new kept" if result.replayed else "committed"
    console.print(f"batch {result.batch} {what}")
    table = Table("table", "accepted")
    for name, count in result.accepted.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    if result.rejected:
        n = len(result.rejected)
        err_console.print(f"{n:,} row{'' if n == 1 else 's'} rejected:")
        for row in result.rejected[:_SHOWN_REJECTIONS]:
            err_console.print(
                f"  {row['table']}[{row['index']}] {row['rule']}: {row['message']}", highlight=False
            )
        if len(result.rejected) > _SHOWN_REJECTIONS:
            err_console.print(f"  ... and {len(result.rejected) - _SHOWN_REJECTIONS:,} more")


@app.command()
def worker(
    data: DataOption = None,
    model: Annotated[
        str | None,
        typer.Option(help="alias of vitals-health (default champion), MLflow URI or directory"),
    ] = None,
    database_url: DatabaseOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="catch up with the ingested batches once, then stop")
    ] = False,
) -> None:
    """Re-score accounts as rows are ingested (beside `vitals serve`), until interrupted.

    It scores with the model `--model` names, and follows the registry when the alias moves.
    """
    from vitals.features.pipeline import PipelineError
    from vitals.serving.batch import ModelNotFoundError
    from vitals.serving.ingest.runtime import FollowedModel, start_worker
    from vitals.serving.store import HealthStore, StoreError

    settings = _settings(data, database_url, model)
    try:
        _data_dir(settings)
        model_now = FollowedModel(settings.serving.model)
        store = HealthStore.open(settings.database_url)
    except (ModelNotFoundError, StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        running = start_worker(settings, store, model_now, start=not once)
    except PipelineError as exc:
        store.close()
        raise fail(str(exc)) from None
    try:
        if once:
            step = running.turn()
            console.print(_describe(step))
            return
        # the handler only notes the signal: it runs between any two steps of this thread, even
        # inside its own last run when SIGTERMs come together (as `vitals serve` sends them),
        # so it must take no lock (an Event's set() does: the worker then waited forever)
        terminated: list[int] = []

        def on_sigterm(signum: int, _frame: object) -> None:
            # stopping already: the SIGTERMs after this one change nothing
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            terminated.append(signum)

        signal.signal(signal.SIGTERM, on_sigterm)
        console.print(f"re-scoring {settings.ingest.data_dir} as rows arrive (Ctrl-C stops)")
        with _delivering(store, settings), contextlib.suppress(KeyboardInterrupt):
            while not terminated:
                time.sleep(_SIGNAL_CHECK_S)
    finally:
        running.stop()
        store.close()


@contextlib.contextmanager
def _delivering(store: HealthStore, settings: Settings) -> Iterator[None]:
    """Deliver the alerts to the configured webhooks meanwhile (when there are any)."""
    from vitals.serving.alerts.webhooks import AlertDeliverer

    if not settings.alerts.webhooks:
        yield
        return
    deliverer = AlertDeliverer(store, settings.alerts)
    deliverer.start()
    try:
        yield
    finally:
        deliverer.stop()


def _describe(step: Step | None) -> str:
    if step is None:
        return "nothing new to re-score"
    everyone = " (everyone)" if step.full else ""
    return (
        f"re-scored {step.accounts:,} accounts{everyone} as of {step.as_of}; "
        f"through batch {step.through}"
    )


def _settings(
    data: str | None, database_url: str | None = None, model: str | None = None
) -> Settings:
    settings = get_settings()
    update: dict[str, object] = {}
    if data is not None:
        update["ingest"] = settings.ingest.model_copy(update={"data_dir": data})
    if database_url is not None:
        update["database_url"] = database_url
    if model is not None:
        update["serving"] = settings.serving.model_copy(update={"model": model})
    return settings.model_copy(update=update)


def _data_dir(settings: Settings) -> str:
    if settings.ingest.data_dir is None:
        raise ValueError("name the data directory: --data DIR (or ingest.data_dir in vitals.toml)")
    return settings.ingest.data_dir
