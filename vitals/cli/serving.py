"""``vitals serve`` and ``vitals keys``: thin wrappers over :mod:`vitals.serving.api.server`.

Wire them into the main app with ``app.add_typer(serving.app)`` (no name: ``serve`` and
``keys`` join the top level).
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from vitals.cli.console import console, err_console, fail
from vitals.config.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
_PR_SET_PDEATHSIG = 1  # prctl(2)
keys = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(keys, name="keys")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="health store URL (default: VITALS_DATABASE_URL)"),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="port (default 8000)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="worker processes (default 1)")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="alias of vitals-health (default champion), MLflow URI or directory"),
    ] = None,
    database_url: DatabaseOption = None,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="data directory: ingest rows into it (POST /v1/events) and re-score as they come",
        ),
    ] = None,
) -> None:
    """Serve the health API (predict, accounts, hierarchy, model, ingestion) under uvicorn."""
    from vitals.serving.api.server import serve as run_server
    from vitals.serving.store import StoreError

    settings = _settings(database_url, model)
    if data is not None or settings.ingest.data_dir is not None:
        # re-scoring runs in a process of its own (_rescoring): one for all the server processes,
        # and no contention with the requests for the interpreter
        ingest = {"data_dir": data or settings.ingest.data_dir, "rescore_in_server": False}
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest)})
    address = f"http://{host or settings.serving.host}:{port or settings.serving.port}"
    err_console.print(f"CS console: {address}/console (sign in with an API key of scope read)")
    try:
        with _rescoring(settings):
            run_server(settings, host, port, workers, access_log=access_log)
    except StoreError as exc:
        raise fail(str(exc)) from None


@keys.command("create")
def create(
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, predict, ingest, annotate or admin (repeatable)"),
    ],
    name: Annotated[str | None, typer.Option(help="who or what the key is for")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from vitals.serving.api.server import issue_key
    from vitals.serving.store import StoreError

    try:
        new = issue_key(_settings(database_url), scope, name)
    except (ValueError, StoreError) as exc:
        raise fail(str(exc)) from None
    err_console.print(
        f"key {new.info.id} ({', '.join(sorted(new.info.scopes))}) created; it is shown only "
        "now, store it safely:"
    )
    console.print(new.key, highlight=False, soft_wrap=True)


@keys.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (see `vitals keys list`)")],
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a key; running servers refuse it within their key cache time (30 s)."""
    from vitals.serving.api.server import withdraw_key
    from vitals.serving.store import StoreError

    try:
        info = withdraw_key(_settings(database_url), key_id)
    except KeyError as exc:
        raise fail(str(exc.args[0])) from None
    except StoreError as exc:
        raise fail(str(exc)) from None
    console.print(f"key {info.id} revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S %Z}")


@keys.command("list")
def list_(database_url: DatabaseOption = None) -> None:
    """List the keys (ids, names, scopes, dates; never the keys themselves)."""
    from vitals.serving.api.server import keys_in_store
    from vitals.serving.store import StoreError

    try:
        found = keys_in_store(_settings(database_url))
    except StoreError as exc:
        raise fail(str(exc)) from None
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    for k in found:
        table.add_row(
            k.id,
            k.name or "",
            ", ".join(sorted(k.scopes)),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@contextmanager
def _rescoring(settings: Settings) -> Iterator[None]:
    """``vitals worker`` beside the server while it runs, when the server ingests."""
    data = settings.ingest.data_dir
    if data is None:
        yield
        return
    command = [sys.executable, "-m", "vitals.cli.main", "worker", "--data", data]
    command += ["--model", settings.serving.model, "--database-url", settings.database_url]
    process = subprocess.Popen(command, preexec_fn=_die_with_parent)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _die_with_parent() -> None:
    """In the child, before it runs: end it (SIGTERM) when the server process ends, however it
    ends (uvicorn re-raises a SIGTERM it handled, so no ``finally`` of ours runs then)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _settings(database_url: str | None, model: str | None = None) -> Settings:
    settings = get_settings()
    update: dict[str, object] = {}
    if database_url is not None:
        update["database_url"] = database_url
    if model is not None:
        update["serving"] = settings.serving.model_copy(update={"model": model})
    return settings.model_copy(update=update)
