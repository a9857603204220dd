"""Error answers: every failure is a JSON body with ``detail``, never an HTML page or a crash.

Validation errors keep FastAPI's shape (``detail`` lists ``type``, ``loc``, ``msg``), with the
offending ``input`` echoed only when it is small and valid JSON: a NaN or a 10,000-account list
is left out rather than breaking the answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

logger = logging.getLogger(__name__)

_MAX_ECHO = 200  # characters of a string input echoed back


def located(exc: ValidationError, *prefix: str) -> list[dict[str, Any]]:
    """pydantic's errors with FastAPI's location prefix (``body``, ``query``)."""
    return [
        {"type": e["type"], "loc": (*prefix, *e["loc"]), "msg": e["msg"], "input": e.get("input")}
        for e in exc.errors(include_url=False, include_context=False)
    ]


def public(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors safe to send: ``type``, ``loc``, ``msg``, and ``input`` when small and finite."""
    out = []
    for e in errors:
        error = {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": str(e.get("msg"))}
        value = e.get("input")
        if (
            value is None
            or isinstance(value, bool | int)
            or (isinstance(value, float) and math.isfinite(value))
            or (isinstance(value, str) and len(value) <= _MAX_ECHO)
        ):
            error["input"] = value
        out.append(error)
    return out


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with the path of each bad field."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": public(exc.errors())}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def store_error(request: Request, exc: Exception) -> JSONResponse:
    """503: the health store cannot be reached."""
    logger.error("store error on %s: %s", request.url.path, exc)
    return JSONResponse(
        {"detail": f"the health store cannot be reached: {exc}"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def input_error(request: Request, exc: Exception) -> JSONResponse:
    """422: the model refused its input (a check the API missed)."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """500 as JSON, logged with its traceback."""
    logger.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)
