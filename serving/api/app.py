"""The app factory: routers, error handlers, metrics, and a lifespan that loads model and store.

Nothing is built at import time. ``uvicorn`` gets :func:`vitals.serving.api.server.app_factory` as a
factory (``--factory``); tests call :func:`create_app` with a model and a store they built.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vitals.config.settings import Settings, get_settings
from vitals.models.frames import InputError
from vitals.models.health_model import HealthModel
from vitals.serving.alerts.webhooks import AlertDeliverer
from vitals.serving.api import errors
from vitals.serving.api.auth import KeyVerifier
from vitals.serving.api.body_limit import BodyLimitMiddleware
from vitals.serving.api.deps import ReadKey
from vitals.serving.api.holder import ModelHolder, ServingModel, registry_loader, serving_model
from vitals.serving.api.metrics import ApiMetrics, MetricsMiddleware
from vitals.serving.api.openapi import document_security
from vitals.serving.api.routers import accounts, alerts, drift, health, ingest, people, predict
from vitals.serving.api.routers import model as model_routes
from vitals.serving.api.vector_cache import VectorCache
from vitals.serving.batch import LoadedModel, ModelNotFoundError
from vitals.serving.console import install_console
from vitals.serving.ingest.runtime import start_ingestion
from vitals.serving.people.sentiment import redeliver_ratings
from vitals.serving.store import HealthStore, StoreError

logger = logging.getLogger(__name__)

DESCRIPTION = """Calibrated, explained customer health per account and account hierarchy.

Every endpoint except `/healthz` needs an API key (`vitals keys create --scope read`), sent as
`X-API-Key: <key>` or `Authorization: Bearer <key>`. Scopes: `read` (accounts, model, docs),
`predict`, `ingest`, `annotate` (CSM sentiment and band overrides), `admin` (everything, the audit
log, and model reloads).
"""


def create_app(
    settings: Settings | None = None,
    *,
    model: HealthModel | LoadedModel | None = None,
    store: HealthStore | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).
        model: a model to serve from the start; by default the lifespan loads
            ``settings.serving.model`` (the registry's ``champion``). Reloads always load that.
        store: an open health store; by default the lifespan opens ``settings.database_url``
            (migrating it) and closes it on shutdown.

    Returns:
        The FastAPI application.
    """
    settings = settings or get_settings()
    metrics = ApiMetrics()
    app = FastAPI(
        title="Vitals API",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan(settings, model, store),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.serving.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(StoreError, errors.store_error)
    app.add_exception_handler(InputError, errors.input_error)
    app.add_exception_handler(Exception, errors.unexpected)
    # routes are matched in order: the one called thousands of times a minute goes first
    modules = (predict, ingest, accounts, people, alerts, model_routes, drift, health)
    routers = [module.router for module in modules]
    for router in routers:
        app.include_router(router)
    document_security(app, routers)
    install_console(app)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: ReadKey) -> JSONResponse:
        return JSONResponse(app.openapi())

    return app


def _lifespan(
    settings: Settings, model: HealthModel | LoadedModel | None, store: HealthStore | None
) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or await run_in_threadpool(HealthStore.open, settings.database_url)
        holder = ModelHolder(registry_loader(settings.serving.model), _initial(model))
        if holder.current is None:
            try:
                await run_in_threadpool(holder.reload)
            except ModelNotFoundError as exc:
                logger.error("serving without a model until POST /v1/model/reload: %s", exc)
        if holder.current is not None:
            app.state.metrics.serving(holder.current.version)
        app.state.store = opened
        app.state.models = holder
        app.state.keys = KeyVerifier(opened, ttl=settings.serving.key_cache_seconds)
        app.state.vectors = VectorCache(opened, ttl=settings.serving.vector_cache_seconds)
        ingestion = await run_in_threadpool(
            start_ingestion, settings, opened, lambda: _loaded(holder)
        )
        if ingestion is not None:  # ratings audited just before a crash are stored now
            await run_in_threadpool(redeliver_ratings, ingestion.ingestor, opened)
        app.state.ingestor = ingestion.ingestor if ingestion is not None else None
        app.state.worker = ingestion.worker if ingestion is not None else None
        deliverer = AlertDeliverer(opened, settings.alerts) if settings.alerts.webhooks else None
        if deliverer is not None:
            deliverer.start()
        # the ~250,000 objects of the loaded libraries and model stay for the process' life: kept
        # out of the collector, a full collection no longer pauses every request for ~100 ms
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if ingestion is not None:
                await run_in_threadpool(ingestion.stop)
            if deliverer is not None:
                await run_in_threadpool(deliverer.stop)
            if store is None:
                opened.close()

    return lifespan


def _loaded(holder: ModelHolder) -> LoadedModel | None:
    """The served model as the batch code takes it (``None`` while none is loaded)."""
    current = holder.current
    return None if current is None else LoadedModel(current.model, current.uri, current.version)


def _initial(model: HealthModel | LoadedModel | None) -> ServingModel | None:
    if model is None:
        return None
    if isinstance(model, HealthModel):
        version = str(model.metadata_.get("model_version") or "unversioned")
        model = LoadedModel(model, "in-process", version)
    return serving_model(model)
