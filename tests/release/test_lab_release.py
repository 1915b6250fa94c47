"""`fab release --env lab` against the real lab: a rolling release across web1 and web2 behind nginx under a
bounded load through lb sees no failed request, and a release whose second host fails its health check
returns both hosts to the previous release; `fab rollback` under the same load drains each host and fails
no request either.

The versions (v1, v2, bad-web2) and the controller state they are released from are the session's
(tests/support/lab/releases.py). Each test asks for the releases it starts from (`lab_releases.deployed`) and gets
them whether or not an earlier test left them, then asserts only what it did itself. The lab is converged first
when it is not (a fresh `fab lab.up` when it is not up at all); the lab lock is held shared throughout.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from foundation.environment import Environment, load_environment
from foundation.instance_endpoints import InstanceEndpoints
from lab.layout import Layout
from lab.plan import BRIDGE, CONTROLLER
from tests.release.local_harness import FabResult
from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import converged_lab
from tests.support.lab.releases import LabReleases, link

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(1500)]
LAYOUT = Layout.default()
RELEASED, ROLLED_BACK = 0, 1
LOAD_RATE = 10.0  # requests a second through lb, at most
LOAD_MAX_REQUESTS = 6000  # bounded in count as well as in time (the release's length)
LOAD_MARGIN_REQUESTS = 20  # the load flows this many requests before the release starts, and as many after it ends


@pytest.fixture(scope="module")
def lab() -> Iterator[None]:
    with converged_lab():
        yield


@pytest.fixture
def world(lab, lab_releases: LabReleases) -> LabReleases:
    return lab_releases


def _current(host: str) -> str:
    current = link(host, "current")
    assert current is not None, f"{host} has no current release"
    return current


def _answers(host: str) -> str:
    with InstanceEndpoints(load_environment("lab")) as endpoints:  # through SSH, as the release reaches it
        return httpx.get(f"{endpoints.url(host, 8000)}/api/version", timeout=5).json()["release_id"]


@contextmanager
def buyer_address() -> Iterator[str]:
    """A second controller address on the lab's bridge for the load: buyers are other clients than the operator,
    whose post-deploy rate-limit check deliberately spends its own address's allowance at nginx and the service."""
    address = str(CONTROLLER + 1)
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", BRIDGE], check=True, capture_output=True)
    try:
        yield address
    finally:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", BRIDGE], check=False, capture_output=True)


@dataclass
class Load:
    """GET /api/health and /api/packages through lb (verified TLS) at a bounded rate until stopped or the cap,
    from `source` (a local address), on one keep-alive connection as a browser would.

    A reload of nginx (each drain and undrain) closes the old workers' idle keep-alive connections; a GET sent on
    one at that instant meets a closed connection with no answer. HTTP lets a client retry an idempotent request
    then (RFC 9112 §9.3.1) and browsers and mobile HTTP stacks do: so does this load, once, on a new connection,
    counting it in `retried`. A request that fails again, or any other error or non-2xx answer, is a failure."""

    url: str
    verify: bool | str
    source: str
    answers: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    retried: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def requests(self) -> int:
        return sum(self.answers.values())

    def _run(self) -> None:
        paths = ("/api/health", "/api/packages")
        transport = httpx.HTTPTransport(verify=self.verify, local_address=self.source)
        with httpx.Client(base_url=self.url, transport=transport, timeout=10) as client:
            while not self._stop.is_set() and self.requests < LOAD_MAX_REQUESTS:
                started = time.monotonic()
                path = paths[self.requests % 2]
                try:
                    status = self._get(client, path)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.answers[status] += 1
                if not (isinstance(status, int) and 200 <= status < 300):
                    self.failures.append(f"{time.strftime('%H:%M:%S')} {path}: {status}")
                time.sleep(max(0.0, 1 / LOAD_RATE - (time.monotonic() - started)))

    def answered_more(self, count: int, seconds: float = 60) -> None:
        """Waits until `count` more requests have been answered (or failed) than now."""
        target = self.requests + count
        deadline = time.monotonic() + seconds
        while self.requests < target:
            assert self._thread is not None and self._thread.is_alive(), f"the load stopped: {self.summary()}"
            assert time.monotonic() < deadline, f"fewer than {count} requests in {seconds:.0f} s: {self.summary()}"
            time.sleep(0.05)

    def summary(self) -> str:
        return f"{self.requests} requests, {len(self.failures)} failed ({self.retried} retried on a new connection)"

    def _get(self, client: httpx.Client, path: str) -> int:
        try:
            return client.get(path).status_code
        except httpx.RemoteProtocolError:  # closed with no answer: the keep-alive race above
            self.retried += 1
            return client.get(path).status_code

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)


def _under_load(env: Environment, run: Callable[[], FabResult]) -> tuple[FabResult, Load]:
    """`run` while the load flows through lb from a buyer's address (from some requests before until some after)."""
    with buyer_address() as source, Load(env.entry_url, env.tls_verify, source) as load:
        load.answered_more(LOAD_MARGIN_REQUESTS)  # the load is flowing before the first drain
        result = run()
        load.answered_more(LOAD_MARGIN_REQUESTS)
    return result, load


def _assert_drained_both_and_failed_nothing(result: FabResult, load: Load, min_requests: int) -> None:
    assert result.code == RELEASED, result
    assert "drain [web1]" in result.output and "drain [web2]" in result.output, result.output
    assert load.requests >= min_requests, load.answers
    assert load.failures == [], f"{len(load.failures)} failed of {load.requests}: {load.failures[:20]}"


def _assert_every_host_runs(env: Environment, world: LabReleases, tag: str) -> None:
    for host in env.web_hosts:
        assert _current(host).endswith(world.version(tag)), host
        assert _answers(host).endswith(world.version(tag)), host


def _assert_no_host_drained(env: Environment) -> None:
    status = ssh("lb", "; ".join(f"/usr/local/sbin/golive-upstream status {host}" for host in env.web_hosts))
    assert "drained" not in status, f"a host is left out of the balancer: {status}"


def _last_audit_line(world: LabReleases) -> str:
    return (world.fab.state / "lab" / "audit.jsonl").read_text().splitlines()[-1]


def test_rolling_release_under_load_fails_no_request(world: LabReleases):
    world.deployed("v1")
    env = load_environment("lab")
    second, load = _under_load(env, lambda: world.release("v2"))
    _assert_drained_both_and_failed_nothing(second, load, min_requests=200)
    _assert_every_host_runs(env, world, "v2")
    print(f"lab release under load: {load.summary()}, release {second.seconds:.1f} s")
    # The backup before migrating was taken and proven on db itself (backup_host: db); the dump stayed there.
    record = json.loads(_last_audit_line(world))
    backup = record["backup"]
    assert backup["host"] == "db" and backup["rows"] > 0, backup
    on_db = ssh("db", f"sha256sum /var/backups/golive/{backup['id']}.dump").split()[0]
    assert on_db == backup["sha256"]


def test_second_host_failing_health_returns_both_hosts(world: LabReleases):
    world.deployed("v2")
    before = _current("web1")
    result = world.release("bad-web2")
    assert result.code == ROLLED_BACK, result
    assert "health [web1/app]" in result.output, "web1 was switched and healthy before web2 failed"
    assert "==> rollback" in result.output, result.output
    env = load_environment("lab")
    for host in env.web_hosts:
        assert _current(host) == before, host
        assert _answers(host) == before, host
    _assert_no_host_drained(env)
    # The audit record says so.
    last = _last_audit_line(world)
    assert '"outcome": "rolled back"' in last or '"outcome":"rolled back"' in last, last


def test_emergency_rollback_under_load_drains_each_host_and_fails_no_request(world: LabReleases):
    """`fab rollback` (the operator's emergency path) takes each host out of nginx while it restarts, as the
    release does: a load through lb meanwhile sees no failed request."""
    world.deployed("v2", previous="v1")
    env = load_environment("lab")
    reason = "lab test: emergency rollback under load"
    result, load = _under_load(env, lambda: world.fab.run("rollback", "--reason", reason, timeout=300))
    _assert_drained_both_and_failed_nothing(result, load, min_requests=40)
    _assert_every_host_runs(env, world, "v1")
    _assert_no_host_drained(env)
    record = json.loads(_last_audit_line(world))
    assert (record["kind"], record["outcome"], record["drained"]) == ("rollback", "rolled back", True), record
    print(f"lab rollback under load: {load.summary()}, rollback {result.seconds:.1f} s")
