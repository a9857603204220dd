"""The OpenAPI schema: FastAPI's, plus the API-key security every protected operation needs.

Keys are checked by one plain dependency per scope (see :func:`vitals.serving.api.deps.require`),
which FastAPI cannot document by itself; this adds the two ways to send a key as security schemes
and, to each operation that depends on a key, the schemes and the scope it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from vitals.serving.api.deps import KEY_HEADER

SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": KEY_HEADER},
    "Bearer": {"type": "http", "scheme": "bearer", "description": "the API key as bearer token"},
}


def document_security(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Make ``app.openapi()`` document the API keys of the routes of ``routers``.

    Args:
        app: the application (its own routes are not protected by a key dependency).
        routers: the routers included in it, without an extra prefix.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SCHEMES
        routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
        for route in routes:
            scope = _required_scope(route)
            if scope is None:
                continue
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                operation["security"] = [{name: []} for name in SCHEMES]
                needs = (
                    "any valid API key" if scope == "any" else f"an API key with scope `{scope}`"
                )
                operation["description"] = f"{operation.get('description', '')}\n\nNeeds {needs}."
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _required_scope(route: APIRoute) -> str | None:
    for dependency in route.dependant.dependencies:
        scope = getattr(dependency.call, "required_scope", None)
        if scope is not None:
            return scope
    return None
