"""What probes, operators and Prometheus read: /api/health, /api/version and /metrics (also across
worker processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client import multiprocess

from app.db import migrator
from foundation.repository import REPO_ROOT
from tests.support.metrics import Scrape, scrape
from tests.support.processes import answers, free_port, stop_process, wait_until
from tests.support.service import RunningService, phone
from tests.support.simulator import CONSUMER_KEY, CONSUMER_SECRET

HTTP_COUNT = "golive_http_request_duration_seconds_count"


# -- health -----------------------------------------------------------------------------------------


def test_health_is_ok_when_the_database_answers(service: RunningService):
    response = service.http.get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")


@pytest.mark.slow
def test_health_is_503_quickly_while_the_database_refuses_and_recovers(service_factory, database_factory, pg_server):
    url = database_factory("health")
    migrator.migrate(url)
    name = url.split("?", 1)[0].rsplit("/", 1)[1]
    service = service_factory(db_url=url)
    assert service.http.get("/api/health").status_code == 200

    with psycopg.connect(pg_server, autocommit=True) as admin:
        try:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            # The first probe may meet a connection killed under it, the next ones an empty pool: both 503.
            for _ in range(2):
                started = time.monotonic()
                down = service.http.get("/api/health")
                assert time.monotonic() - started < 5
                assert down.status_code == 503
                assert down.json()["status"] == "unhealthy"
                assert down.json()["database"] != "ok"
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    wait_until(lambda: service.http.get("/api/health").status_code == 200, "health to recover", seconds=30)
    assert service.http.get("/api/health").json()["database"] == "ok"


# -- version ----------------------------------------------------------------------------------------


def test_version_reports_the_release_and_the_schema(service: RunningService, service_factory):
    body = service.http.get("/api/version").json()

    assert set(body) >= {"release_id", "git_sha", "schema_revision", "schema_head"}
    assert body["schema_revision"] == body["schema_head"] == migrator.head_revision()

    tagged = service_factory(release_id="2026.11.26-1", git_sha="0123abcd")
    body = tagged.http.get("/api/version").json()
    assert (body["release_id"], body["git_sha"]) == ("2026.11.26-1", "0123abcd")
    assert body["schema_revision"] == migrator.head_revision()


# -- metrics ----------------------------------------------------------------------------------------


def test_metrics_follow_a_paid_payment(service: RunningService, sim):
    before = scrape(service.http)

    started = service.pay(phone("00"))
    assert started.status_code == 202
    payment_id = started.json()["id"]
    assert service.wait_for_state(payment_id)["state"] == "paid"
    after = scrape(service.http)

    def rise(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert rise("golive_payment_transitions_total", state="paid", result_code="0") == 1
    assert rise("golive_payment_transitions_total", state="submitted") == 1
    assert rise("golive_callback_lag_seconds_count") == 1
    assert rise("golive_daraja_request_duration_seconds_count", operation="stkpush", outcome="ok") >= 1
    assert rise(HTTP_COUNT, route="/api/payments", method="POST", status="202") == 1
    assert rise(HTTP_COUNT, route="/api/payments/{payment_id}", method="GET", status="200") >= 1
    assert after.value("golive_http_request_duration_seconds_bucket", route="/api/payments", le="+Inf") >= 1
    # Route templates only: no raw id ever becomes a label value (that would be a series per payment).
    routes = after.label_values(HTTP_COUNT, "route")
    assert not any(payment_id in route or payment_id.replace("-", "") in route for route in routes)


@pytest.mark.parametrize("path", ["/metrics", "/%6Detrics", "/%6d%65trics"])
def test_metrics_answer_scrapes_never_what_a_balancer_forwarded(service: RunningService, path: str):
    """The edge refuses /metrics by its literal path; what it forwards (X-Forwarded-For) under another spelling the
    router decodes is refused here, as an unknown path is; a scrape straight to the instance is answered."""
    forwarded = service.http.get(path, headers={"X-Forwarded-For": "203.0.113.7"})
    assert forwarded.status_code == 404 and forwarded.json() == {"detail": "Not Found"}
    assert HTTP_COUNT not in forwarded.text
    assert service.http.get(path).status_code == 200 and HTTP_COUNT in service.http.get(path).text


def test_unmatched_paths_share_one_route_label(service: RunningService):
    random_path = f"/no/such/{uuid.uuid4().hex}"
    before = scrape(service.http)
    assert service.http.get(random_path).status_code == 404
    after = scrape(service.http)

    assert after.value(HTTP_COUNT, route="unmatched", method="GET", status="404") == (
        before.value(HTTP_COUNT, route="unmatched", method="GET", status="404") + 1
    )
    assert not any("no/such" in route for route in after.label_values(HTTP_COUNT, "route"))


def _per_worker(multiproc: Path) -> dict[str, float]:
    """Each worker's own /api/packages count, read from its file in the multiprocess folder."""
    counts = {}
    for path in sorted(multiproc.glob("histogram_*.db")):
        families = multiprocess.MultiProcessCollector.merge([str(path)], accumulate=True)
        counts[path.name] = sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == HTTP_COUNT and sample.labels.get("route") == "/api/packages"
        )
    return counts


@pytest.mark.slow
def _start_uvicorn(db_url: str, simulator, tmp_path: Path, *options: str) -> tuple[subprocess.Popen, str, Path]:
    """The service under uvicorn as the units run it (--no-access-log): the process, its URL and its log file."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("GOLIVE_")}
    env.update(
        {
            "GOLIVE_ENV": "test",
            "GOLIVE_STATE_DIR": str(tmp_path / "state"),
            "GOLIVE_DATABASE_URL": db_url,
            "GOLIVE_DARAJA_BASE_URL": simulator.url,
            "GOLIVE_PUBLIC_BASE_URL": url,
            "GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY,
            "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET,
            # Given, not generated: two workers generating it at once race (see test_security.py).
            "GOLIVE_CALLBACK_SECRET": uuid.uuid4().hex,
            "GOLIVE_RATE_LIMIT_ENABLED": "false",
        }
    )
    if (tmp_path / "prometheus").is_dir():
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", *options]
    command += ["--no-access-log", "--no-proxy-headers", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert process.poll() is None, f"the service exited early:\n{log.read_text()[-3000:]}"
        return answers(f"{url}/api/health")

    try:
        wait_until(up, "the service under uvicorn", seconds=60)
    except BaseException:
        stop_process(process)
        raise
    return process, url, log


def test_each_request_is_logged_once_by_the_service_and_a_scrape_not_at_info(db_url: str, simulator, tmp_path: Path):
    process, url, log = _start_uvicorn(db_url, simulator, tmp_path)
    try:
        for path in ("/api/packages", "/api/packages", "/metrics", "/metrics", "/metrics"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 200
    finally:
        stop_process(process)
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [(entry["logger"], entry["msg"]) for entry in entries if "access" in entry["logger"]]
    assert access.count(("golive.access", "GET /api/packages 200")) == 2, access
    assert not [entry for entry in access if entry[0] == "uvicorn.access"], "uvicorn's own access line came back"
    assert not [entry for entry in access if "/metrics" in entry[1]], "a successful scrape was logged at INFO"


def test_metrics_add_up_across_worker_processes(db_url: str, simulator, tmp_path: Path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    process, url, log = _start_uvicorn(db_url, simulator, tmp_path, "--workers", "2")
    try:
        requests = 60
        for _ in range(requests):  # a new connection each time, so that both workers serve
            assert httpx.get(f"{url}/api/packages", timeout=10).status_code == 200

        counts = []
        for _ in range(6):
            text = httpx.get(f"{url}/metrics", timeout=10).text
            counts.append(Scrape(text).value(HTTP_COUNT, route="/api/packages", method="GET", status="200"))
        assert counts == [requests] * 6
        # The premise: both workers served a share, each in its own file, and /metrics added them up.
        served = [count for count in _per_worker(multiproc).values() if count]
        assert len(served) == 2, served
        assert sum(served) == requests
        assert process.poll() is None, log.read_text()[-3000:]
    finally:
        stop_process(process)
