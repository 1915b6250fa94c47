"""Targets, verdicts and the printed tables (pure: no I/O but returning strings)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.cpu import CpuUsage
from bench.wrk import WrkResult

BARE, PAYMENTS, CALLBACKS = "bare", "payments", "callbacks"
# The same endpoints paced at their target rate instead of as fast as answers come.
PAYMENTS_AT_RATE, CALLBACKS_AT_RATE = "payments_at_target_rate", "callbacks_at_target_rate"
ENDPOINTS = {
    BARE: "POST /bare (constant JSON)",
    PAYMENTS: "POST /api/payments",
    CALLBACKS: "POST /api/callbacks/stk/{id}/{token}",
    PAYMENTS_AT_RATE: "payments paced at 400 req/s",
    CALLBACKS_AT_RATE: "callbacks paced at 800 req/s",
}


# A paced measurement counts as sustaining the rate when it reached this share of it.
SUSTAINED = 0.95


@dataclass(frozen=True)
class Target:
    min_rps: float
    max_p99_ms: float
    paced: bool = False  # judged at the target rate rather than as fast as answers come

    def met(self, result: WrkResult) -> bool:
        # A target names a latency at a rate: the closed loop proves the rate is reachable (its latencies are those
        # at saturation, above the rate, and are reported only); the paced run measures the latency at the rate.
        if self.paced:
            return result.rps >= self.min_rps * SUSTAINED and result.p99_ms <= self.max_p99_ms
        return result.rps >= self.min_rps

    def describe(self) -> str:
        if self.paced:
            return f"p99 <= {self.max_p99_ms:g} ms while sustaining {self.min_rps:g} req/s"
        return f">= {self.min_rps:g} req/s as fast as answers come"


TARGETS = {
    PAYMENTS: Target(400, 100),
    CALLBACKS: Target(800, 50),
    PAYMENTS_AT_RATE: Target(400, 100, paced=True),
    CALLBACKS_AT_RATE: Target(800, 50, paced=True),
}
# Above this share of the machine's CPU used by other processes, the figures understate the service.
FOREIGN_LOAD_WARNING = 0.05
QUIET_MARGIN = 0.03


@dataclass
class Measurement:
    endpoint: str
    result: WrkResult
    cpu: CpuUsage | None = None
    # The bare endpoint's result from the same server and round: the ratios' denominator.
    bare: WrkResult | None = None
    # What the database says happened (payment states, callback statuses), for the record.
    checks: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"endpoint": ENDPOINTS[self.endpoint], **self.result.to_json()}
        if self.bare is not None:
            data["rps_ratio_to_bare"] = ratio(self.result.rps, self.bare.rps)
            data["p99_ratio_to_bare"] = ratio(self.result.p99_ms, self.bare.p99_ms)
        target = TARGETS.get(self.endpoint)
        if target is not None:
            data["target"] = target.describe()
            data["target_met"] = target.met(self.result)
        if self.cpu is not None:
            data.update(self.cpu.to_json(self.result.requests))
        data["checks"] = self.checks
        data["valid"] = self.valid
        data["problems"] = self.problems
        return data


def ratio(value: float, base: float) -> float | None:
    return round(value / base, 3) if base else None


def machine() -> dict[str, object]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "wrk": _wrk_version(),
        "uvicorn": _version("uvicorn"),
        "granian": _version("granian"),
        "fastapi": _version("fastapi"),
        "code": _code_version(),
    }


def _code_version() -> str:
    """The commit measured, and whether app/ differed from it (uncommitted changes are measured too)."""
    try:
        commit = _git("rev-parse", "--short", "HEAD").strip()
        changed = _git("status", "--porcelain", "--", "app").split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    dirty = sum(1 for line in changed if line.strip())
    return f"{commit or '?'}{f' + {dirty} changed file(s) in app/' if dirty else ''}"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    try:
        text = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(r"wrk\s+(\S+)", text)
    return found.group(1) if found else "?"


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=False).stdout


def describe_machine(info: dict[str, object]) -> str:
    return (
        f"{info['date']} | {info['nproc']} CPUs ({info['cpu'] or 'unknown CPU'}) | Linux {info['kernel']} | "
        f"Python {info['python']} | wrk {info['wrk']} | uvicorn {info['uvicorn']} | granian {info['granian']} | "
        f"FastAPI {info['fastapi']} | code {info['code']}"
    )


def foreign_share(measurement: Measurement) -> float:
    return measurement.cpu.foreign_share if measurement.cpu is not None else 0.0


def representative(rounds: list[dict[str, Measurement]]) -> dict[str, Measurement]:
    """Per endpoint, the least disturbed round: among the rounds whose foreign load is within
    QUIET_MARGIN of the lowest, the one with the median throughput (the lower middle of an even count).
    On a machine others use, their load is the largest error; on a quiet one this is the median."""
    chosen = {}
    for endpoint in rounds[0]:
        measured = [measurements[endpoint] for measurements in rounds]
        quietest = min(foreign_share(m) for m in measured)
        candidates = sorted(
            (m for m in measured if foreign_share(m) <= quietest + QUIET_MARGIN), key=lambda m: m.result.rps
        )
        chosen[endpoint] = candidates[(len(candidates) - 1) // 2]
    return chosen


def table(server: str, measurements: dict[str, Measurement]) -> str:
    header = (
        f"{'endpoint':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7} "
        f"{'rps/bare':>9} {'p99/bare':>9}  target"
    )
    lines = [f"== {server} ==", header, "-" * len(header)]
    for endpoint, measurement in measurements.items():
        result = measurement.result
        rps_ratio = p99_ratio = "-"
        if measurement.bare is not None:
            rps_ratio = f"{ratio(result.rps, measurement.bare.rps) or 0:.3f}"
            p99_ratio = f"{ratio(result.p99_ms, measurement.bare.p99_ms) or 0:.1f}x"
        target = TARGETS.get(endpoint)
        verdict = ""
        if target is not None:
            verdict = f"{'PASS' if target.met(result) else 'FAIL'} ({target.describe()})"
        if not measurement.valid:
            verdict = "INVALID RUN: " + "; ".join(measurement.problems)
        lines.append(
            f"{ENDPOINTS[endpoint]:<38} {result.rps:>8.0f} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f} "
            f"{result.non2xx:>8} {result.socket_errors:>7} {rps_ratio:>9} {p99_ratio:>9}  {verdict}"
        )
    return "\n".join(lines)


def cpu_table(measurements: dict[str, Measurement]) -> str:
    """CPU milliseconds per request by part, and the share of the machine other processes used."""
    parts = ("server", "postgres", "simulator", "wrk")
    header = f"{'CPU ms per request':<38} " + " ".join(f"{part:>9}" for part in parts) + f" {'total':>9}  foreign load"
    lines = [header, "-" * len(header)]
    for endpoint, measurement in measurements.items():
        if measurement.cpu is None:
            continue
        per_request = measurement.cpu.per_request_ms(measurement.result.requests)
        cells = " ".join(f"{per_request.get(part, 0.0):>9.2f}" for part in parts)
        foreign = measurement.cpu.foreign_share
        warning = "  <- busy machine: figures understated" if foreign > FOREIGN_LOAD_WARNING else ""
        lines.append(f"{ENDPOINTS[endpoint]:<38} {cells} {sum(per_request.values()):>9.2f}  {foreign:>11.0%}{warning}")
    return "\n".join(lines)


def decide_server(results: dict[str, dict[str, Measurement]]) -> str:
    """Which server served the service's two endpoints faster (by throughput), and the CPU each server's
    workers used per request (less sensitive to other processes' load). No verdict when other processes
    used more than FOREIGN_LOAD_WARNING of the machine during a compared measurement."""
    if len(results) < 2:
        return "only one server measured: no comparison"
    (first, a), (second, b) = list(results.items())[:2]
    lines, score, disturbed = [], 0, []
    for endpoint in (PAYMENTS, CALLBACKS):
        if endpoint not in a or endpoint not in b:
            continue
        ma, mb = a[endpoint], b[endpoint]
        ra, rb = ma.result, mb.result
        change = (rb.rps - ra.rps) / ra.rps * 100 if ra.rps else 0.0
        score += 1 if rb.rps > ra.rps else -1
        loads = (foreign_share(ma), foreign_share(mb))
        if max(loads) > FOREIGN_LOAD_WARNING:
            disturbed.append(f"{endpoint} ({loads[0]:.0%} / {loads[1]:.0%})")
        lines.append(
            f"  {endpoint}: {second} {rb.rps:.0f} req/s (p99 {rb.p99_ms:.1f} ms) vs {first} {ra.rps:.0f} req/s "
            f"(p99 {ra.p99_ms:.1f} ms): {change:+.1f}% throughput for {second}; "
            f"server CPU per request {_server_ms(mb)} vs {_server_ms(ma)} ms"
        )
    if disturbed:
        verdict = (
            f"no verdict: other processes loaded the machine during {', '.join(disturbed)} "
            f"({first} / {second}); rerun on a quiet machine or with --rounds 3"
        )
    elif score > 0:
        verdict = f"faster: {second}"
    elif score < 0:
        verdict = f"faster: {first}"
    else:
        verdict = "mixed: each server wins one endpoint"
    return "\n".join([verdict, *lines])


def _server_ms(measurement: Measurement) -> str:
    if measurement.cpu is None:
        return "?"
    return f"{measurement.cpu.per_request_ms(measurement.result.requests).get('server', 0.0):.2f}"
