"""Delivering alerts to real HTTP receivers on loopback: signed, retried with backoff, once."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from alertkit import SECRET, publish, score_row, settings
from sqlalchemy import select

from vitals.config.alerts import AlertSettings
from vitals.serving.alerts.raise_alerts import raise_alerts
from vitals.serving.alerts.records import StoredAlert
from vitals.serving.alerts.webhooks import AlertDeliverer, DeliveryReport, deliver_due
from vitals.serving.store import AlertDelivery, HealthStore

T0 = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
TO_POOR = {"name": "to-poor", "kind": "band_drop"}


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next status of ``answers`` (then 200),
    and 401 to a request whose signature does not match."""

    url: str
    answers: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(self.headers["X-Vitals-Signature"], expected)
            delivery = self.headers["X-Vitals-Delivery"]
            state.requests.append({"delivery": delivery, "signed": signed, "headers": self.headers})
            status = 401 if not signed else (state.answers.pop(0) if state.answers else 200)
            if status == 200:
                state.accepted.setdefault(delivery, json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:  # loopback, never through a proxy
        yield client


def raised(store: HealthStore, rules: AlertSettings) -> StoredAlert:
    publish(store, [score_row("A", T0.date() - timedelta(7), 80), score_row("A", T0.date(), 30)])
    (alert,) = raise_alerts(store, rules, None, T0.date(), now=T0)
    return alert


def outbox(store: HealthStore) -> list[AlertDelivery]:
    with store.session() as session:
        return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt_with_backoff(
    store: HealthStore, receiver: Receiver, http: httpx.Client
) -> None:
    receiver.answers = [500, 500]
    rules = settings(TO_POOR, webhooks=[{"url": receiver.url, "secret": SECRET}])
    alert = raised(store, rules)

    def attempt(seconds: float) -> DeliveryReport:
        return deliver_due(store, rules, at(seconds), client=http)

    assert attempt(0) == DeliveryReport(retrying=1)
    (row,) = outbox(store)
    assert row.attempts == 1 and row.last_error == "HTTP 500 Internal Server Error"
    assert row.next_attempt_at.replace(tzinfo=UTC) == at(1)  # backoff_seconds * 2**0
    assert attempt(0.9) == DeliveryReport()  # not due yet
    assert attempt(1) == DeliveryReport(retrying=1)
    assert outbox(store)[0].next_attempt_at.replace(tzinfo=UTC) == at(1 + 2)  # doubled
    assert attempt(2.9) == DeliveryReport()
    assert attempt(3) == DeliveryReport(delivered=1)
    assert attempt(60) == DeliveryReport()  # delivered: never sent again

    assert len(receiver.requests) == 3 and all(r["signed"] for r in receiver.requests)
    assert len({r["delivery"] for r in receiver.requests}) == 1  # one id for every attempt
    assert [r["headers"]["X-Vitals-Timestamp"] for r in receiver.requests] == [
        str(int(at(s).timestamp())) for s in (0, 1, 3)
    ]
    (payload,) = receiver.accepted.values()
    assert payload["alert"]["id"] == alert.id and payload["alert"]["rule"] == "to-poor"
    assert payload["delivery_id"] == receiver.requests[0]["delivery"]
    assert payload["alert"]["details"]["before"]["band"] == "good"
    (row,) = outbox(store)
    assert row.attempts == 3 and row.delivered_at.replace(tzinfo=UTC) == at(3)
    assert row.next_attempt_at is None


def test_delivery_gives_up_after_max_attempts(
    store: HealthStore, receiver: Receiver, http: httpx.Client
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    receiver.answers = [503] * 10
    hooks = [
        {"url": receiver.url, "secret": SECRET, "max_attempts": 2, "backoff_seconds": 10},
        {"url": closed, "secret": SECRET, "max_attempts": 1, "timeout_seconds": 2},
    ]
    rules = settings(TO_POOR, webhooks=hooks)
    raised(store, rules)
    assert deliver_due(store, rules, at(0), client=http) == DeliveryReport(retrying=1, gave_up=1)
    assert deliver_due(store, rules, at(10), client=http) == DeliveryReport(gave_up=1)
    assert deliver_due(store, rules, at(1000), client=http) == DeliveryReport()
    failing, refused = outbox(store)
    assert (failing.attempts, failing.next_attempt_at, failing.delivered_at) == (2, None, None)
    assert failing.last_error.startswith("HTTP 503")
    assert refused.attempts == 1 and refused.last_error.startswith("ConnectError")
    assert len(receiver.requests) == 2


def test_a_wrong_secret_is_refused_by_the_receiver(
    store: HealthStore, receiver: Receiver, http: httpx.Client
) -> None:
    rules = settings(TO_POOR, webhooks=[{"url": receiver.url, "secret": "x" * 20}])
    raised(store, rules)
    assert deliver_due(store, rules, at(0), client=http) == DeliveryReport(retrying=1)
    assert receiver.requests[0]["signed"] is False and not receiver.accepted


def test_deliveries_to_webhooks_no_longer_configured_wait(
    store: HealthStore, receiver: Receiver, http: httpx.Client
) -> None:
    rules = settings(TO_POOR, webhooks=[{"url": receiver.url, "secret": SECRET}])
    raised(store, rules)
    assert deliver_due(store, settings(TO_POOR), at(0), client=http) == DeliveryReport()
    other = settings(TO_POOR, webhooks=[{"url": receiver.url + "/v2", "secret": SECRET}])
    assert deliver_due(store, other, at(0), client=http) == DeliveryReport()
    assert receiver.requests == [] and outbox(store)[0].attempts == 0
    assert deliver_due(store, rules, at(0), client=http) == DeliveryReport(delivered=1)


def test_the_background_deliverer_sends_what_is_due(
    store: HealthStore, receiver: Receiver, http: httpx.Client
) -> None:
    receiver.answers = [500]
    hook = {"url": receiver.url, "secret": SECRET, "backoff_seconds": 0.05}
    rules = settings(TO_POOR, webhooks=[hook])
    publish(store, [score_row("A", T0.date() - timedelta(7), 80), score_row("A", T0.date(), 30)])
    raise_alerts(store, rules, None, T0.date())  # due now, by the clock
    with AlertDeliverer(store, rules, interval=0.05, client=http):
        deadline = time.monotonic() + 10
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(receiver.accepted) == 1 and len(receiver.requests) == 2
    assert outbox(store)[0].delivered_at is not None
