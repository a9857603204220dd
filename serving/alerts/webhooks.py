"""Delivering alerts to webhooks: signed, retried with exponential backoff, never sent twice once
accepted.

Each delivery is a ``POST`` of ``{"delivery_id": ..., "alert": {...}}`` (JSON) with the headers

* ``X-Vitals-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body, keyed with the webhook's
  secret (check it on the raw bytes, before parsing);
* ``X-Vitals-Delivery``: the delivery's id, the same on every attempt (deduplicate on it: an
  attempt whose answer was lost is sent again);
* ``X-Vitals-Timestamp``: the attempt's time, in Unix seconds.

A 2xx answer delivers it. Anything else (another status, a timeout, a refused connection) is
recorded as ``last_error`` and the next attempt is scheduled ``backoff_seconds * 2**(attempts - 1)``
later, until ``max_attempts`` attempts have failed. Before sending, a deliverer claims the row (it
counts the attempt and pushes ``next_attempt_at`` past the request's timeout), so deliverers in
several server processes never send the same attempt twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from vitals.config.alerts import AlertSettings, WebhookSettings
from vitals.serving.alerts.records import StoredAlert
from vitals.serving.store import HealthStore
from vitals.serving.store.alert_schema import ERROR_LENGTH, Alert, AlertDelivery
from vitals.serving.store.db import store_errors

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Vitals-Signature"
DELIVERY_HEADER = "X-Vitals-Delivery"
TIMESTAMP_HEADER = "X-Vitals-Timestamp"
BATCH = 100  # deliveries handled per call
_LEASE_MARGIN = timedelta(seconds=30)  # a claimed attempt is retried this long after its timeout


@dataclass(frozen=True)
class DeliveryReport:
    """What one :func:`deliver_due` call did.

    Attributes:
        delivered: deliveries accepted by their webhook.
        retrying: failed attempts with another one scheduled.
        gave_up: failed last attempts (``max_attempts`` reached).
    """

    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0


@dataclass(frozen=True)
class _Due:
    id: int
    attempts: int
    webhook: WebhookSettings
    delivery_id: str
    alert: StoredAlert


def sign(body: bytes, secret: str) -> str:
    """The ``X-Vitals-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver_due(
    store: HealthStore,
    settings: AlertSettings,
    now: datetime | None = None,
    *,
    client: httpx.Client | None = None,
) -> DeliveryReport:
    """Attempt every delivery that is due (up to :data:`BATCH`), oldest due first.

    Deliveries to webhooks no longer configured are left alone.

    Args:
        store: the health store holding the outbox.
        settings: the configured webhooks (URL, secret, attempts, backoff, timeout).
        now: the time to act at, for every attempt of this call (default: the clock, read at
            each attempt).
        client: the HTTP client to send with (default: a new one, closed on return).

    Returns:
        How many deliveries were accepted, will be retried, or were given up.

    Raises:
        StoreError: the store cannot be read or written.
    """
    webhooks = {w.url: w for w in settings.webhooks}
    if not webhooks:
        return DeliveryReport()
    fixed = None if now is None else now.astimezone(UTC)

    def clock() -> datetime:
        return fixed or datetime.now(UTC)

    counts = {"delivered": 0, "retrying": 0, "gave_up": 0}
    http = client or httpx.Client()
    try:
        for due in _due(store, webhooks, clock()):
            moment = clock()
            if not _claim(store, due, moment):
                continue
            error = _post(http, due, moment)
            counts[_record(store, due, error, clock())] += 1
    finally:
        if client is None:
            http.close()
    return DeliveryReport(**counts)


class AlertDeliverer:
    """Calls :func:`deliver_due` every ``interval`` seconds on a background thread until stopped.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        store: the health store holding the outbox.
        settings: the configured webhooks.
        interval: seconds between two rounds.
        client: the HTTP client to send with (default: one of its own while it runs).
    """

    def __init__(
        self,
        store: HealthStore,
        settings: AlertSettings,
        interval: float = 1.0,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.interval = interval
        self._client = client
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering (a no-op when already running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="vitals-alert-deliverer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the round in progress, waiting up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> AlertDeliverer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        if self._client is not None:
            self._loop(self._client)
            return
        with httpx.Client() as client:
            self._loop(client)

    def _loop(self, client: httpx.Client) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.store, self.settings, client=client)
            except Exception:
                logger.exception("alert delivery round failed; next in %s s", self.interval)
            self._stop.wait(self.interval)


def _due(store: HealthStore, webhooks: dict[str, WebhookSettings], moment: datetime) -> list[_Due]:
    query = (
        select(AlertDelivery, Alert)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(
            AlertDelivery.delivered_at.is_(None),
            AlertDelivery.next_attempt_at <= moment,
            AlertDelivery.webhook_url.in_(list(webhooks)),
        )
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
        .limit(BATCH)
    )
    with store.session() as session:
        return [
            _Due(
                delivery.id,
                delivery.attempts,
                webhooks[delivery.webhook_url],
                _delivery_id(alert.dedupe_key, delivery.webhook_url),
                StoredAlert.of(alert),
            )
            for delivery, alert in session.execute(query)
        ]


def _claim(store: HealthStore, due: _Due, moment: datetime) -> bool:
    """Count the attempt and hold the row while it runs; ``False`` when another deliverer has it."""
    lease = moment + timedelta(seconds=due.webhook.timeout_seconds) + _LEASE_MARGIN
    statement = (
        update(AlertDelivery)
        .where(
            AlertDelivery.id == due.id,
            AlertDelivery.attempts == due.attempts,
            AlertDelivery.delivered_at.is_(None),
        )
        .values(attempts=due.attempts + 1, next_attempt_at=lease)
    )
    return _write(store, "claim an alert delivery", statement) == 1


def _post(http: httpx.Client, due: _Due, moment: datetime) -> str | None:
    """Send one attempt; the error, or ``None`` when the webhook accepted it."""
    payload = {"delivery_id": due.delivery_id, "alert": due.alert.to_json()}
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "vitals-alerts",
        SIGNATURE_HEADER: sign(body, due.webhook.secret.get_secret_value()),
        DELIVERY_HEADER: due.delivery_id,
        TIMESTAMP_HEADER: str(int(moment.timestamp())),
    }
    try:
        response = http.post(
            due.webhook.url, content=body, headers=headers, timeout=due.webhook.timeout_seconds
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.is_success:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _record(store: HealthStore, due: _Due, error: str | None, moment: datetime) -> str:
    """Write an attempt's outcome; which count of :class:`DeliveryReport` it adds to."""
    attempts = due.attempts + 1
    row = update(AlertDelivery).where(AlertDelivery.id == due.id)
    if error is None:
        values: dict[str, Any] = {"delivered_at": moment, "next_attempt_at": None}
        outcome = "delivered"
    elif attempts >= due.webhook.max_attempts:
        values = {"next_attempt_at": None, "last_error": error[:ERROR_LENGTH]}
        outcome = "gave_up"
    else:
        wait = timedelta(seconds=due.webhook.backoff_seconds * 2 ** (attempts - 1))
        values = {"next_attempt_at": moment + wait, "last_error": error[:ERROR_LENGTH]}
        outcome = "retrying"
    _write(store, "record an alert delivery", row.values(**values))
    if error is not None:
        logger.warning(
            "alert %d to %s: attempt %d of %d failed (%s)%s",
            due.alert.id,
            due.webhook.url,
            attempts,
            due.webhook.max_attempts,
            error,
            "; giving up" if outcome == "gave_up" else "",
        )
    return outcome


def _write(store: HealthStore, doing: str, statement: Update) -> int:
    """Run an update in a transaction of its own; the rows it matched."""
    with store_errors(store.engine, doing), Session(store.engine) as session, session.begin():
        return session.execute(statement).rowcount


def _delivery_id(dedupe_key: str, url: str) -> str:
    """Stable for an alert and a webhook, whatever the attempt (and the database's row ids)."""
    return hashlib.sha256(f"{dedupe_key}|{url}".encode()).hexdigest()[:32]
