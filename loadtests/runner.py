"""Runs one bounded, headless Locust load test (standalone, or a master and K local workers) and collects its
verdict. Every run gets a folder: <state>/loadtests/<env>/<UTC timestamp>/ with report.html, report.json,
locust_*.csv, slo.json (the verdict), summary.txt and the Locust logs."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from foundation.repository import REPO_ROOT
from foundation.sections import LoadTest
from foundation.state import StateLayout
from loadtests import slo
from loadtests.contract import (
    ADMIN_KEY_VARIABLE,
    ENV_VARIABLE,
    MAX_REQUESTS_VARIABLE,
    RESULT_VARIABLE,
    THRESHOLDS_VARIABLE,
)

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
MAX_USERS = 2000
MAX_DURATION_SECONDS = 1800
MAX_WORKERS = 8
MAX_SPAWN_RATE = 1000
# The master waits at most this long for its workers (each imports Locust and the locustfile, slow on a busy
# machine); the run starts as soon as they have joined.
WORKERS_JOIN_SECONDS = 120
GRACE_SECONDS = WORKERS_JOIN_SECONDS + 60  # beyond the run time: start, spawning, workers joining, reports


class LoadTestError(Exception):
    """The load test could not run (bad settings, target down, Locust failed); the message says why."""


@dataclass(frozen=True)
class LoadSpec:
    host: str
    env: str = "adhoc"
    users: int = LoadTest.users
    spawn_rate: float = 5.0
    duration: float = LoadTest.duration  # seconds
    workers: int = LoadTest.workers  # 0: one standalone Locust process; K: a master and K local workers
    thresholds: slo.Thresholds = field(default_factory=slo.Thresholds)
    max_requests: int = LoadTest.max_requests
    admin_key: str | None = None
    knobs: Mapping[str, str] = field(default_factory=dict)  # GOLIVE_LOADTEST_* for the scenarios
    ca_file: str | None = None  # the CA the target's certificate is verified with (SSL_CERT_FILE for Locust)

    def check(self) -> None:
        problems = []
        if not self.host.startswith(("http://", "https://")):
            problems.append(f"the target must be an http(s) URL, not {self.host!r}")
        if not 1 <= self.users <= MAX_USERS:
            problems.append(f"--users must be between 1 and {MAX_USERS}, not {self.users}")
        if not 0 < self.spawn_rate <= MAX_SPAWN_RATE:
            problems.append(f"--spawn-rate must be above 0 and at most {MAX_SPAWN_RATE}, not {self.spawn_rate:g}")
        if not 1 <= self.duration <= MAX_DURATION_SECONDS:
            problems.append(f"--duration must be between 1 and {MAX_DURATION_SECONDS} seconds, not {self.duration:g}")
        if not 0 <= self.workers <= MAX_WORKERS:
            problems.append(f"--workers must be between 0 and {MAX_WORKERS}, not {self.workers}")
        if self.max_requests < 1:
            problems.append(f"the request cap must be at least 1, not {self.max_requests}")
        bad = [name for name in self.knobs if not name.startswith("GOLIVE_LOADTEST_")]
        if bad:
            problems.append(f"knobs are GOLIVE_LOADTEST_* variables, not {', '.join(bad)}")
        if problems:
            raise LoadTestError("; ".join(problems))


@dataclass(frozen=True)
class LoadResult:
    spec: LoadSpec
    run_dir: Path
    exit_code: int  # 0 passed, 1 an SLO threshold failed
    verdict: dict[str, Any]
    seconds: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and bool(self.verdict.get("passed"))

    @property
    def figures(self) -> dict[str, Any]:
        return self.verdict.get("figures", {})

    def summary_lines(self) -> list[str]:
        spec, f = self.spec, self.figures
        mode = f", {spec.workers} workers" if spec.workers else ""
        lines = [
            f"load test {'PASSED' if self.passed else 'FAILED'} against {spec.host} ({spec.users} users, "
            f"spawn {spec.spawn_rate:g}/s, {spec.duration:g} s{mode}) in {self.seconds:.1f} s",
            f"  requests {f.get('requests', 0)} at {f.get('rps', 0):.1f} req/s, failures {f.get('failures', 0)} "
            f"({f.get('failure_ratio', 0):.2%}); p50 {f.get('p50_ms', 0):g} ms, p95 {f.get('p95_ms', 0):g} ms, "
            f"p99 {f.get('p99_ms', 0):g} ms, max {f.get('max_ms', 0):g} ms",
        ]
        if f.get("payments"):
            lines.append(
                f"  payments {f['payments']}: {f['paid']} settled as their phone says; settle p50 "
                f"{f.get('payment_settle_p50_ms', 0):g} ms, p95 {f.get('payment_settle_p95_ms', 0):g} ms"
            )
        lines.append(f"  {'check':<16} {'limit':<14} {'measured':<24} verdict")
        for check in self.verdict.get("checks", []):
            verdict = "pass" if check["passed"] else "FAIL"
            lines.append(f"  {check['name']:<16} {check['limit']:<14} {check['value']:<24} {verdict}")
        for error in self.verdict.get("errors", [])[:5]:
            lines.append(f"  error x{error['count']}: {error['name']}: {error['error']}")
        lines.append(f"  reports: {self.run_dir} (report.html, report.json, locust_stats.csv, slo.json)")
        return lines

    def audit(self) -> dict[str, Any]:
        """For the release's audit record: settings, figures, each check and the verdict (never the admin key)."""
        return {
            "passed": self.passed,
            "users": self.spec.users,
            "duration_s": self.spec.duration,
            "workers": self.spec.workers,
            "figures": self.figures,
            "checks": {
                c["name"]: {"limit": c["limit"], "value": c["value"], "passed": c["passed"]}
                for c in self.verdict.get("checks", [])
            },
            "run": str(self.run_dir),
        }


def run_folder(state: StateLayout, env: str) -> Path:
    base = state.loadtests(env)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for suffix in ("", *(f"-{n}" for n in range(2, 100))):
        folder = base / f"{stamp}{suffix}"
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise LoadTestError(f"cannot make a run folder under {base}")


def reachable(host: str, *, verify: bool | str = True, timeout: float = 5.0) -> None:
    """LoadTestError naming the URL when the entry point does not answer /api/health with 200."""
    url = host.rstrip("/") + "/api/health"
    try:
        response = httpx.get(url, timeout=timeout, verify=verify)
    except httpx.HTTPError as exc:
        raise LoadTestError(
            f"nothing answers on {url} ({type(exc).__name__}: {exc}): is the environment running?"
        ) from None
    if response.status_code != 200:
        raise LoadTestError(f"{url} answered {response.status_code}: the service is not healthy; not load-testing it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environ(spec: LoadSpec, run_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_LOADTEST_")}
    env.update(spec.knobs)
    env.update(
        {
            THRESHOLDS_VARIABLE: json.dumps(spec.thresholds.as_dict()),
            RESULT_VARIABLE: str(run_dir / "slo.json"),
            MAX_REQUESTS_VARIABLE: str(spec.max_requests),
            ENV_VARIABLE: spec.env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if spec.admin_key:
        env[ADMIN_KEY_VARIABLE] = spec.admin_key  # the environment, not argv: argv is visible in ps
    if spec.ca_file:
        env["SSL_CERT_FILE"] = spec.ca_file  # geventhttpclient's default context reads OpenSSL's default paths
    return env


def commands(spec: LoadSpec, run_dir: Path, master_port: int | None = None) -> tuple[list[str], list[list[str]]]:
    """The Locust command lines: (standalone or master, workers)."""
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    main = [
        *base,
        "--headless",
        "--host",
        spec.host,
        "--users",
        str(spec.users),
        "--spawn-rate",
        f"{spec.spawn_rate:g}",
        "--run-time",
        f"{max(1, round(spec.duration))}s",
        "--csv",
        str(run_dir / "locust"),
        "--html",
        str(run_dir / "report.html"),
        "--json-file",
        str(run_dir / "report"),  # Locust adds .json
        "--only-summary",
        "--loglevel",
        "INFO",
        "--logfile",
        str(run_dir / "locust.log"),
    ]
    if not spec.workers:
        return main, []
    assert master_port is not None
    main += [
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(master_port),
        "--expect-workers",
        str(spec.workers),
        "--expect-workers-max-wait",
        str(WORKERS_JOIN_SECONDS),
    ]
    workers = [
        [
            *base,
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(master_port),
            "--loglevel",
            "WARNING",
            "--logfile",
            str(run_dir / f"worker-{number}.log"),
        ]
        for number in range(1, spec.workers + 1)
    ]
    return main, workers


def _start(command: list[str], env: dict[str, str], cwd: Path, output: Path) -> subprocess.Popen:
    with output.open("w") as out:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen, seconds: float = 10) -> None:
    """SIGTERM to the process's own session (it and its children), then SIGKILL: by PID, never by name."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, seconds), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run(spec: LoadSpec, run_dir: Path, *, progress=print) -> LoadResult:
    """Runs the load test, bounded by its run time plus a grace period; LoadTestError when it produced no verdict."""
    spec.check()
    if importlib.util.find_spec("locust") is None:
        raise LoadTestError("Locust is not installed: pip install -e '.[load]' (make test-fast installs it)")
    env = _environ(spec, run_dir)
    port = free_port() if spec.workers else None
    main, workers = commands(spec, run_dir, port)
    started = time.monotonic()
    master = _start(main, env, run_dir, run_dir / "locust.out")
    processes = [master]
    try:
        processes += [_start(cmd, env, run_dir, run_dir / f"worker-{n}.out") for n, cmd in enumerate(workers, 1)]
        progress(
            f"locust: {spec.users} users at {spec.spawn_rate:g}/s for {spec.duration:g} s against {spec.host}"
            + (f", master pid {master.pid} + {len(workers)} workers" if workers else f", pid {master.pid}")
        )
        try:
            code = master.wait(timeout=spec.duration + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            raise LoadTestError(
                f"locust did not finish within {spec.duration + GRACE_SECONDS:g} s: stopped (see {run_dir})"
            ) from None
        for worker in processes[1:]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=15)  # a worker quits when its master does
    finally:
        for process in processes:
            _stop(process)
    verdict_file = run_dir / "slo.json"
    if not verdict_file.exists():
        raise LoadTestError(f"locust exited {code} without a verdict: {_tail(run_dir)}")
    result = LoadResult(spec, run_dir, code, json.loads(verdict_file.read_text()), time.monotonic() - started)
    (run_dir / "summary.txt").write_text("\n".join(result.summary_lines()) + "\n")
    return result


def _tail(run_dir: Path, lines: int = 15) -> str:
    text = ""
    for name in ("locust.out", "locust.log"):
        path = run_dir / name
        if path.exists():
            text += path.read_text(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:]) or f"no output (see {run_dir})"
