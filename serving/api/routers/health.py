"""Operational endpoints: liveness (anonymous), readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from vitals.serving.api.deps import AnyKey, HolderDep, MetricsDep, StoreDep
from vitals.serving.api.schemas import Health, Readiness, problems
from vitals.serving.store import StoreError
from vitals.serving.store.db import store_errors

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers (no key needed)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        **problems(401),
        503: {"model": Readiness, "description": "no model loaded or store unreachable"},
    },
)
def readyz(_: AnyKey, holder: HolderDep, store: StoreDep) -> Response:
    """Readiness: a model is loaded and the health store answers a query (any valid key)."""
    current = holder.current
    try:
        with store_errors(store.engine, "check the store"), store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        store_state = "ok"
    except StoreError:
        store_state = "unreachable"
    ready = current is not None and store_state == "ok"
    body = Readiness(
        status="ready" if ready else "not_ready",
        model_version=current.version if current is not None else None,
        store=store_state,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        **problems(401),
    },
)
def metrics(_: AnyKey, collected: MetricsDep) -> Response:
    """Prometheus metrics: request counts and latencies, model version, scores served."""
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)
