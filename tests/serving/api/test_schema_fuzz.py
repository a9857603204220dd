"""Schemathesis over the OpenAPI schema: no 500s, and every answer matches its documentation.

The schema is loaded from the running app (with a key), then every operation gets property-based
cases, valid and invalid, sent with an admin key. (Schemathesis' lazy pytest loader does not work
with this pytest version, so the operations are walked here.)
"""

from __future__ import annotations

import schemathesis
from apikit import auth
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_no_server_errors_and_no_schema_violations(
    client: TestClient, keys: dict[str, str]
) -> None:
    headers = auth(keys["admin"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /v1/predict",
        "GET /v1/accounts",
        "GET /v1/accounts/{account_id}",
        "GET /v1/accounts/{account_id}/hierarchy",
        "GET /v1/model",
        "POST /v1/model/reload",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
