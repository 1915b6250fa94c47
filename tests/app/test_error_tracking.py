"""Unhandled errors: the app's JSON 500, golive_unhandled_errors_total{route}, and — with GOLIVE_SENTRY_DSN — an
event at Sentry (a loopback stand-in that accepts envelopes) tagged with environment and release, scrubbed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sentry_sdk
from fastapi import APIRouter

from app.db import migrator
from app.main import create_app
from app.observability.error_tracking import ErrorTracker
from app.worker.context import SweepContext
from app.worker.loop import Worker
from app.worker.registry import resolve
from tests.support.metrics import scrape
from tests.support.processes import ThreadServer, free_port
from tests.support.sentry_receiver import SentryReceiver
from tests.support.service import service_settings
from tests.support.worker import with_leader, worker_settings

PHONE = "0712345678"
CALLBACK_SECRET = "cb-" + uuid.uuid4().hex
RELEASE = "2026.11.26-7"
UNHANDLED = "golive_unhandled_errors_total"

# Registered only by these tests: a route whose failure carries a phone number and a secret in its message.
boom = APIRouter()


@boom.get("/test/boom")
async def explode() -> None:
    raise RuntimeError(f"payout for {PHONE} failed (callback secret {CALLBACK_SECRET})")


class App:
    def __init__(self, db_url: str, daraja_url: str, state_dir: Path, **overrides: Any):
        port = free_port()
        settings = service_settings(
            db_url, daraja_url, state_dir, port, callback_secret=CALLBACK_SECRET, release_id=RELEASE, **overrides
        )
        app = create_app(settings)
        app.include_router(boom)
        self.server = ThreadServer(app, port).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=15)

    def unhandled(self, route: str) -> float:
        return scrape(self.http).value(UNHANDLED, route=route)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


@pytest.fixture
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def start(db_url, simulator, state_dir):
    started: list[App] = []

    def start(**overrides: Any) -> App:
        overrides.setdefault("db_url", db_url)
        started.append(App(overrides.pop("db_url"), simulator.url, state_dir, **overrides))
        return started[-1]

    yield start
    for app in started:
        app.stop()


def _is_internal_error(answer: httpx.Response) -> None:
    assert answer.status_code == 500
    body = answer.json()
    assert body["error"] == "internal" and body["request_id"] == answer.headers["x-request-id"]


def test_an_unhandled_error_reaches_sentry_tagged_and_scrubbed(start, sentry: SentryReceiver):
    app = start(sentry_dsn=sentry.dsn())
    before = app.unhandled("/test/boom")

    answer = app.http.get("/test/boom")

    _is_internal_error(answer)
    assert PHONE not in answer.text and CALLBACK_SECRET not in answer.text
    assert app.unhandled("/test/boom") == before + 1
    (event,) = sentry.wait_for_events(1)
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert (event["environment"], event["release"]) == ("test", RELEASE)
    assert event["tags"]["route"] == "/test/boom"
    assert event["tags"]["request_id"] == answer.headers["x-request-id"]
    assert "254712***678" in exception["value"] and "[REDACTED]" in exception["value"]
    # Nothing personal or secret anywhere in what was sent (the whole envelope, not just the event).
    raw = "\n".join(envelope.raw for envelope in sentry.envelopes)
    for leaked in (PHONE, "254712345678", CALLBACK_SECRET):
        assert leaked not in raw
    assert "request" not in event and "user" not in event and event["breadcrumbs"] == {"values": []}
    assert exception["mechanism"] == {"type": "golive", "handled": False}
    assert sentry.envelopes[0].path == "/api/1/envelope/" and not sentry.refused


def test_a_real_failure_is_reported_with_its_type(start, sentry: SentryReceiver, database_factory, pg_server):
    """The schema drifting under a running service (its payments table gone): the database's own error."""
    url = database_factory("drift")
    migrator.migrate(url)
    app = start(db_url=url, sentry_dsn=sentry.dsn())
    route = "/api/payments/{payment_id}"
    before = app.unhandled(route)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE payments RENAME TO payments_moved")

    answer = app.http.get(f"/api/payments/{uuid.uuid4()}")

    _is_internal_error(answer)
    assert app.unhandled(route) == before + 1
    (event,) = sentry.wait_for_events(1)
    assert event["exception"]["values"][-1]["type"] == "UndefinedTable"
    assert event["tags"]["route"] == route


def test_without_a_dsn_nothing_is_sent_and_the_error_is_still_counted(start, sentry: SentryReceiver):
    app = start()
    before = app.unhandled("/test/boom")

    _is_internal_error(app.http.get("/test/boom"))

    assert app.unhandled("/test/boom") == before + 1
    assert not sentry_sdk.get_client().is_active()  # no process-wide client either
    time.sleep(1)
    assert sentry.envelopes == []


def test_a_sweep_that_raises_is_reported_by_the_worker(db_url, simulator, state_dir, sentry: SentryReceiver):
    settings = worker_settings(db_url, simulator.url, state_dir, sentry_dsn=sentry.dsn(), release_id=RELEASE)
    tracker = ErrorTracker.from_settings(settings)

    async def one_pass(ctx: SweepContext):
        sweeps = resolve([("boom", "tests.support.sweeps:boom")])
        return await Worker(ctx, sweeps, tick=1, grace=1, report=tracker.capture).run_pass()

    try:
        assert asyncio.run(with_leader(settings, one_pass)).errors == {"boom": "RuntimeError: boom"}
        (event,) = sentry.wait_for_events(1)
    finally:
        tracker.close()
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    assert (event["tags"]["sweep"], event["release"]) == ("boom", RELEASE)
