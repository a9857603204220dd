"""``POST /v1/predict``: score up to 10,000 accounts, from raw features or stored ones.

Services call this thousands of times a minute, mostly for one account, so the route is served
by :class:`LeanRoute`: it does what FastAPI's generic request handling does for :func:`predict`
(check the key, take the model and the store, validate the query and the body, call the endpoint
in the thread pool), but directly, and parses the body with pydantic's own JSON parser; a request
for a few accounts sent with their features is scored on the event loop itself. That saves
about half of FastAPI's per-request overhead, which the serving benchmark needs to reach its
targets (>= 1,000 one-account requests/s and >= 0.5 of a bare endpoint): it stays for that. The
OpenAPI schema still comes from :func:`predict`'s signature, and errors (401/403/422/503) look
exactly like every other route's. While the app has ``dependency_overrides`` (tests), requests go
through FastAPI's own handler, so overrides reach this route as any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from vitals.serving.api.deps import (
    ModelDep,
    PredictKey,
    VectorsDep,
    get_model,
    get_vectors,
    require,
)
from vitals.serving.api.errors import located
from vitals.serving.api.predict_schemas import PredictRequest, PredictResponse
from vitals.serving.api.predicting import predict_accounts
from vitals.serving.api.schemas import problems

MAX_REASONS = 20
QUICK_ACCOUNTS = 4  # accounts with features up to which a request is scored on the event loop
Reasons = Annotated[int, Field(ge=0, le=MAX_REASONS)]
_REASONS = TypeAdapter(Reasons)
_PREDICT_KEY = require("predict")


class LeanRoute(APIRoute):
    """The route class of ``POST /v1/predict`` (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """A handler that solves :func:`predict`'s parameters itself (FastAPI's with overrides)."""
        standard = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await standard(request)
            key = await _PREDICT_KEY(request)
            served, vectors = await get_model(request), await get_vectors(request)
            reasons = _query_reasons(request)
            body = _body(await request.body(), request.headers.get("content-type"))
            if _quick(body):
                return predict(key, request, body, served, vectors, reasons)
            return await run_in_threadpool(predict, key, request, body, served, vectors, reasons)

        return handle


router = APIRouter(prefix="/v1", tags=["predict"], route_class=LeanRoute)


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=problems(401, 403, 413, 503),
)
def predict(
    _: PredictKey,
    request: Request,
    body: PredictRequest,
    served: ModelDep,
    vectors: VectorsDep,
    reasons: Annotated[
        int, Query(ge=0, le=MAX_REASONS, description="top reasons per account (0 for none)")
    ] = 5,
) -> Response:
    """Churn probability, health score, band, profile and top reasons per account.

    Each account is either raw feature values (``features``) or just an ``account_id``, scored
    from the newest feature vector the batch stored for it. An id without stored features gets
    a 404 entry (``status``) in the results; the other accounts are still scored. All accounts
    of a request are scored by the same model, whose version the response names.
    """
    state = request.app.state
    content, scored = predict_accounts(
        served, vectors, body.accounts, reasons, state.settings.serving.max_batch
    )
    state.metrics.scores.inc(scored)
    return Response(content, media_type="application/json")


def _quick(body: PredictRequest) -> bool:
    """Whether to score on the event loop: a few accounts sent with their features.

    Explaining one account costs about as much CPU as a trip through the thread pool; a few
    such accounts block the loop for well under a millisecond. Stored accounts need a database
    read and large batches take longer: those go to the thread pool.
    """
    accounts = body.accounts
    return len(accounts) <= QUICK_ACCOUNTS and all(a.features is not None for a in accounts)


def _query_reasons(request: Request) -> int:
    raw = request.query_params.get("reasons")
    if raw is None:
        return 5
    try:
        return _REASONS.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError(located(exc, "query", "reasons")) from None


def _body(raw: bytes, content_type: str | None) -> PredictRequest:
    media = (content_type or "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": "send Content-Type: application/json",
                }
            ]
        )
    try:
        return PredictRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(located(exc, "body")) from None
