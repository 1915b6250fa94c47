"""`python -m app.worker` as real processes on a fresh database: exactly one of two workers is active; kill -9 the
active one and the other takes over within seconds; SIGTERM hands the lease over at once; --once and its exit codes;
/metrics from --metrics-port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from app.db import migrator
from app.worker.registry import SWEEPS
from foundation.repository import REPO_ROOT
from tests.support.metrics import Scrape
from tests.support.processes import free_port, wait_until
from tests.support.service import phone, start_service
from tests.support.worker import start_worker, stop_worker, worker_env

TTL = 2.0
STARTUP = 60  # seconds a worker process may take to start and lead (the suite runs beside it on a busy machine)


@pytest.fixture
def fresh_db(database_factory) -> str:
    url = database_factory("worker_processes")
    migrator.migrate(url)
    return url


@pytest.fixture
def workers(fresh_db, simulator, state_dir, tmp_path):
    env = worker_env(fresh_db, simulator.url, state_dir, worker_lease_ttl_seconds=str(TTL), worker_tick_seconds="0.2")
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        process = start_worker(env, "--holder", name, "--metrics-port", str(port), *args, log_path=tmp_path / name)
        started.append(process)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        stop_worker(process)


def _lease(url: str) -> tuple[str, int, bool] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT holder, fence, expires_at > now() FROM worker_leases WHERE role = 'recovery'"
        ).fetchone()
    return tuple(row) if row else None


def _leader_gauge(metrics_url: str) -> float | None:
    try:
        return Scrape(httpx.get(f"{metrics_url}/metrics", timeout=2).text).value("golive_worker_leader")
    except httpx.HTTPError:
        return None


def _live_holder(url: str) -> str | None:
    lease = _lease(url)
    return lease[0] if lease and lease[2] else None


@pytest.mark.slow
def test_one_active_worker_and_a_takeover_within_seconds_of_a_kill(workers, fresh_db, tmp_path):
    a, a_metrics = workers("worker-a")
    b, b_metrics = workers("worker-b")
    wait_until(lambda: _live_holder(fresh_db) is not None, "a leader", seconds=STARTUP)
    both = lambda: None not in (_leader_gauge(a_metrics), _leader_gauge(b_metrics))  # noqa: E731
    wait_until(both, "both metrics", seconds=STARTUP)
    time.sleep(TTL)  # several heartbeats: still exactly one leader
    gauges = {"worker-a": _leader_gauge(a_metrics), "worker-b": _leader_gauge(b_metrics)}
    leader = _live_holder(fresh_db)
    assert sorted(gauges.values()) == [0.0, 1.0], gauges
    assert gauges[leader] == 1.0
    leader_metrics = Scrape(httpx.get(f"{a_metrics if leader == 'worker-a' else b_metrics}/metrics").text)
    assert leader_metrics.value("golive_worker_sweep_runs_total", sweep="stk_query") >= 1
    assert leader_metrics.value("golive_worker_sweep_errors_total") == 0
    assert leader_metrics.label_values("golive_recovery_stuck_items", "reason") >= {"no_callback", "needs_review"}
    follower_metrics = Scrape(httpx.get(f"{b_metrics if leader == 'worker-a' else a_metrics}/metrics").text)
    assert follower_metrics.value("golive_worker_sweep_runs_total") == 0  # a follower never sweeps
    first_fence = _lease(fresh_db)[1]

    victim, survivor = (a, "worker-b") if leader == "worker-a" else (b, "worker-a")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=5)
    killed_at = time.monotonic()
    wait_until(lambda: _live_holder(fresh_db) == survivor, "the survivor takes over", seconds=3 * TTL)
    takeover = time.monotonic() - killed_at
    assert takeover < TTL + 1.5, f"took {takeover:.1f} s"
    assert _lease(fresh_db)[1] == first_fence + 1
    survivor_log = (tmp_path / survivor).read_text()
    assert '"msg": "leader"' in survivor_log


@pytest.mark.slow
def test_sigterm_releases_the_lease_at_once(workers, fresh_db):
    a, _ = workers("worker-a")
    wait_until(lambda: _live_holder(fresh_db) == "worker-a", "worker-a leads", seconds=STARTUP)
    b, b_metrics = workers("worker-b")
    wait_until(lambda: _leader_gauge(b_metrics) == 0.0, "worker-b running, following", seconds=STARTUP)
    assert stop_worker(a) == 0
    released_at = time.monotonic()
    wait_until(lambda: _live_holder(fresh_db) == "worker-b", "worker-b leads", seconds=TTL * 3)
    assert time.monotonic() - released_at < TTL  # no waiting for the lease to lapse
    assert stop_worker(b) == 0


def _once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.worker", "--once", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


@pytest.mark.slow
def test_once_runs_every_sweep_or_refuses_while_another_worker_leads(workers, fresh_db, simulator, state_dir):
    env = worker_env(fresh_db, simulator.url, state_dir, worker_lease_ttl_seconds=str(TTL))
    done = _once(env, "--holder", "once")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["leader"] is True and summary["errors"] == {}
    assert set(summary["handled"]) == {name for name, _ in SWEEPS}
    assert _live_holder(fresh_db) is None  # released on exit

    workers("resident")
    wait_until(lambda: _live_holder(fresh_db) == "resident", "a resident leader", seconds=STARTUP)
    refused = _once(env, "--holder", "once-again")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["leader"] is False


def test_help_and_bad_usage(fresh_db, simulator, state_dir):
    env = worker_env(fresh_db, simulator.url, state_dir)
    helped = subprocess.run([sys.executable, "-m", "app.worker", "--help"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=30, check=False)  # fmt: skip
    assert helped.returncode == 0 and "--once" in helped.stdout and "--metrics-port" in helped.stdout
    unknown = _once(env, "--sweep", "nonsense")
    assert unknown.returncode == 2 and "no such sweep: nonsense" in unknown.stderr
    bad = _once({**env, "GOLIVE_WORKER_LEASE_TTL_SECONDS": "0"})
    assert bad.returncode == 2 and "GOLIVE_WORKER_LEASE_TTL_SECONDS" in bad.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)  # its waits are hang guards: a starved machine takes minutes
def test_a_worker_killed_mid_pass_loses_and_duplicates_nothing(fresh_db, simulator, sim, state_dir, tmp_path):
    """40 payments whose callbacks are lost; the worker settling them by query is killed -9 twice mid-pass; the
    next one finishes: every payment ends paid exactly once (one transition event), none is left behind."""
    service = start_service(fresh_db, simulator.url, state_dir, public_base_url=f"http://127.0.0.1:{free_port()}")
    try:
        ids = [service.pay(phone("00")).json()["id"] for _ in range(40)]
    finally:
        service.stop()
    sim.configure(response_delay=0.05)  # each query takes a while: a pass lasts about two seconds
    # A dead victim's lease lapses in 3 s: short enough that each next worker takes over soon, long enough that a
    # starved worker keeps its own lease between renewals.
    env = worker_env(fresh_db, simulator.url, state_dir, worker_lease_ttl_seconds="3",
                     worker_tick_seconds="0.2", recovery_query_after_seconds="0")  # fmt: skip
    for round_ in range(2):
        before = _paid(fresh_db, ids)
        victim = start_worker(env, "--holder", f"victim-{round_}", log_path=tmp_path / f"victim-{round_}")
        try:
            progress = lambda v=victim, b=before: _paid(fresh_db, ids) > b or v.poll() is not None  # noqa: E731
            wait_until(progress, "this worker settles some", seconds=180)  # a hang guard
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=5)
    assert _paid(fresh_db, ids) < len(ids), "the kills should land mid-way"
    finisher = start_worker(env, "--holder", "finisher", log_path=tmp_path / "finisher")
    try:
        wait_until(lambda: _paid(fresh_db, ids) == len(ids), "every payment settled", seconds=300)
    finally:
        assert stop_worker(finisher) == 0
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        transitions = conn.execute(
            """SELECT payment_id, count(*) FROM payment_events WHERE payment_id = ANY(%s) AND to_state = 'paid'
               GROUP BY payment_id""",
            (ids,),
        ).fetchall()
    assert len(transitions) == len(ids) and {count for _, count in transitions} == {1}


def _paid(url: str, ids: list[str]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        query = "SELECT count(*) FROM payments WHERE id = ANY(%s) AND state = 'paid'"
        return conn.execute(query, (ids,)).fetchone()[0]
