"""Running the API under uvicorn, and issuing keys: what ``vitals serve``, ``vitals keys`` and
``vitals demo`` call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import uvicorn
from fastapi import FastAPI

from vitals.config.settings import Settings, get_settings
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import KeyInfo, NewKey, create_key, list_keys, revoke_key
from vitals.serving.store import HealthStore

SETTINGS_ENV = "VITALS_SERVE_SETTINGS"  # settings handed to worker processes, as JSON


def serve(
    settings: Settings | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    *,
    access_log: bool = False,
) -> None:
    """Serve the API until interrupted (blocks).

    The store is migrated once here, before any worker starts. Each worker builds its app with
    :func:`app_factory` and loads the model in its lifespan.

    Args:
        settings: settings to serve with (default: :func:`vitals.config.settings.get_settings`).
        host: address to listen on (default: ``settings.serving.host``, 127.0.0.1).
        port: port (default: ``settings.serving.port``, 8000).
        workers: worker processes (default: ``settings.serving.workers``, 1).
        access_log: log every request (off by default: ``/metrics`` counts them).

    Raises:
        StoreError: the health store cannot be reached or migrated.
    """
    settings = settings or get_settings()
    HealthStore.open(settings.database_url).close()
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(
        "vitals.serving.api.server:app_factory",
        factory=True,
        host=host or settings.serving.host,
        port=port or settings.serving.port,
        workers=workers or settings.serving.workers,
        access_log=access_log,
        log_level="info",
    )


def app_factory() -> FastAPI:
    """The app for one uvicorn worker: the settings :func:`serve` passed on, else the process'."""
    passed = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(passed) if passed else get_settings()
    return create_app(settings)


def issue_key(settings: Settings, scopes: Iterable[str], name: str | None = None) -> NewKey:
    """Create an API key in the settings' store (migrating it first if needed).

    Raises:
        ValueError: no scope, or an unknown one.
        StoreError: the store cannot be reached or written.
    """
    store = HealthStore.open(settings.database_url)
    try:
        return create_key(store, scopes, name)
    finally:
        store.close()


def withdraw_key(settings: Settings, key_id: str) -> KeyInfo:
    """Revoke a key in the settings' store (servers stop accepting it within their cache TTL).

    Raises:
        KeyError: no key has that id.
        StoreError: the store cannot be reached or written.
    """
    store = HealthStore.open(settings.database_url)
    try:
        return revoke_key(store, key_id)
    finally:
        store.close()


def keys_in_store(settings: Settings) -> list[KeyInfo]:
    """Every key of the settings' store, oldest first.

    Raises:
        StoreError: the store cannot be reached.
    """
    store = HealthStore.open(settings.database_url)
    try:
        return list_keys(store)
    finally:
        store.close()


def example_requests(base_url: str, key: str, account_id: str | None = None) -> list[str]:
    """``curl`` lines to try a running server (what ``vitals demo`` prints with the key).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000``.
        key: an API key with the ``read`` and ``predict`` scopes.
        account_id: an account to show (default: a placeholder).
    """
    account = account_id or "ACCOUNT_ID"
    header = f"-H 'X-API-Key: {key}'"
    body = json.dumps({"accounts": [{"account_id": account}]})
    return [
        f"curl {base_url}/healthz",
        f"curl {header} '{base_url}/v1/accounts?band=poor&limit=5'",
        f"curl {header} '{base_url}/v1/accounts/{account}?since=30d'",
        f"curl {header} '{base_url}/v1/accounts/{account}/hierarchy?weighting=contract_value'",
        f"curl {header} -H 'Content-Type: application/json' -d '{body}' "
        f"'{base_url}/v1/predict?reasons=5'",
        f"curl {header} {base_url}/v1/model",
        f"curl {header} {base_url}/openapi.json",
    ]
