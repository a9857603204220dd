"""``/v1/alerts``: raised alerts, filtered in cursor pages, and acknowledging one.

Pages run newest first; a cursor is the last listed alert's id (base64 JSON, as the worklist's),
so the next page starts strictly after it, whatever was raised meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from vitals.serving.alerts.records import AlertFilter, StoredAlert, acknowledge, list_alerts
from vitals.serving.api.alert_schemas import AlertKind, AlertPage, AlertPublic
from vitals.serving.api.deps import AdminKey, ReadKey, StoreDep
from vitals.serving.api.schemas import Problem, problems
from vitals.serving.api.worklist import CursorError

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

_MAX_ID = 2**63 - 1
_NO_ALERT = {404: {"model": Problem, "description": "no such alert"}}


@router.get("", response_model=AlertPage, responses=problems(401, 403, 503))
def get_alerts(
    _: ReadKey,
    store: StoreDep,
    acknowledged: Annotated[
        bool | None, Query(description="only acknowledged (true) or open (false) alerts")
    ] = None,
    kind: Annotated[list[AlertKind] | None, Query(description="keep these rule kinds")] = None,
    rule: Annotated[
        list[Annotated[str, Query(max_length=100)]] | None,
        Query(description="keep these rules (by name)"),
    ] = None,
    subject_id: Annotated[
        str | None, Query(max_length=128, description="alerts about this account or parent")
    ] = None,
    since: Annotated[
        date | None, Query(description="alerts about scored dates on or after this one")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertPage:
    """Raised alerts, newest first. Filters combine (AND); pass ``next_cursor`` back as
    ``cursor`` (with the same filters) for the next page."""
    try:
        before = _decode(cursor) if cursor else None
    except CursorError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc)}]
        ) from None
    which = AlertFilter(acknowledged, kind or (), rule or (), subject_id, since)
    with store.session() as session:
        alerts, more = list_alerts(session, which, before_id=before, limit=limit)
    return AlertPage(
        items=[public(a) for a in alerts],
        next_cursor=_encode(alerts[-1].id) if more else None,
    )


@router.post(
    "/{alert_id}/ack",
    response_model=AlertPublic,
    responses={**problems(401, 403, 503), **_NO_ALERT},
)
def acknowledge_alert(
    key: AdminKey,
    store: StoreDep,
    alert_id: Annotated[int, Path(ge=1, le=_MAX_ID, description="the alert's id")],
) -> AlertPublic:
    """Acknowledge an alert (admin): records the key's name and the time. Acknowledging it
    again changes nothing and answers the same."""
    acked = acknowledge(store, alert_id, key.name or key.id, datetime.now(UTC))
    if acked is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return public(acked)


def public(alert: StoredAlert) -> AlertPublic:
    """A stored alert in the API's shape."""
    return AlertPublic(**asdict(alert), acknowledged=alert.acknowledged_at is not None)


def _encode(alert_id: int) -> str:
    text = json.dumps({"a": alert_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        alert_id = data["a"]
        if type(alert_id) is not int or not 1 <= alert_id <= _MAX_ID:
            raise ValueError("not an alert id")
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise CursorError("cursor is not one this API issued: start again without it") from None
    return alert_id
