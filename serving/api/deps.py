"""Dependencies of the routers, as ``Annotated`` aliases: the model, the store, and API keys.

They are ``async def`` on purpose: each is a few attribute reads or a cached dictionary look-up,
and a plain ``def`` dependency would cost a trip through the thread pool on every request. The
one blocking step, looking an uncached key up in the store, runs in the thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from vitals.config.playbooks import PlaybookError
from vitals.models.playbook import Playbook, configured_playbook
from vitals.serving.api.auth import KeyInfo, KeyVerifier, Scope
from vitals.serving.api.holder import ModelHolder, ServingModel
from vitals.serving.api.metrics import ApiMetrics
from vitals.serving.api.vector_cache import VectorCache
from vitals.serving.store import HealthStore

logger = logging.getLogger(__name__)
KEY_HEADER = "X-API-Key"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vitals"'}


async def get_holder(request: Request) -> ModelHolder:
    """The app's model holder."""
    return request.app.state.models


async def get_model(request: Request) -> ServingModel:
    """The model for this whole request (one reference, taken now); 503 when none is loaded."""
    current = request.app.state.models.current
    if current is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model is loaded yet")
    return current


async def get_store(request: Request) -> HealthStore:
    """The app's health store."""
    return request.app.state.store


async def get_vectors(request: Request) -> VectorCache:
    """The app's cache of stored feature vectors."""
    return request.app.state.vectors


async def get_metrics(request: Request) -> ApiMetrics:
    """The app's metrics."""
    return request.app.state.metrics


async def _verified(request: Request) -> KeyInfo:
    """The presented API key's info; 401 when it is missing, unknown or revoked."""
    headers = request.headers
    presented = headers.get(KEY_HEADER)
    if not presented:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else None
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send X-API-Key or Authorization: Bearer",
            headers=_CHALLENGE,
        )
    verifier: KeyVerifier = request.app.state.keys
    hit, info = verifier.cached(presented)
    if not hit:
        info = await run_in_threadpool(verifier.verify, presented)
    if info is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers=_CHALLENGE
        )
    return info


def require(scope: Scope | None) -> Callable[[Request], Awaitable[KeyInfo]]:
    """A dependency that needs a valid key granting ``scope`` (any scope for ``None``).

    One dependency reading the headers itself: FastAPI's security classes as sub-dependencies
    cost several times more per request. The OpenAPI schema still documents the key
    (:func:`vitals.serving.api.openapi.document_security`).
    """

    async def check(request: Request) -> KeyInfo:
        key = await _verified(request)
        if scope is not None and not key.allows(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this API key lacks the {scope!r} scope"
            )
        return key

    check.required_scope = scope or "any"  # type: ignore[attr-defined]  # read by the docs
    return check


def playbook_of(request: Request, served: ServingModel) -> Playbook | None:
    """The configured playbook for the served model (loaded once per model version); ``None``,
    logged once, when its file is invalid: the scores are still served."""
    cache = request.app.state.__dict__.setdefault("playbooks", {})
    if served.version not in cache:
        try:
            settings, features = request.app.state.settings, served.model.feature_names_
            cache[served.version] = configured_playbook(settings, features=features)
        except PlaybookError as exc:
            logger.error("no next steps: %s", exc)
            cache[served.version] = None
    return cache[served.version]


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[ServingModel, Depends(get_model)]
StoreDep = Annotated[HealthStore, Depends(get_store)]
VectorsDep = Annotated[VectorCache, Depends(get_vectors)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
AnyKey = Annotated[KeyInfo, Depends(require(None))]
ReadKey = Annotated[KeyInfo, Depends(require("read"))]
PredictKey = Annotated[KeyInfo, Depends(require("predict"))]
AdminKey = Annotated[KeyInfo, Depends(require("admin"))]
