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

from bench.wrk import WrkResult

BARE, PAYMENTS, CALLBACKS = "bare", "payments", "callbacks"
ENDPOINTS = {
    BARE: "POST /bare (constant JSON)",
    PAYMENTS: "POST /api/payments",
    CALLBACKS: "POST /api/callbacks/stk/{id}/{token}",
}


@dataclass(frozen=True)
class Target:
    min_rps: float
    max_p99_ms: float

    def met(self, result: WrkResult) -> bool:
        return result.rps >= self.min_rps and result.p99_ms <= self.max_p99_ms

    def describe(self) -> str:
        return f">= {self.min_rps:g} req/s, p99 <= {self.max_p99_ms:g} ms"


TARGETS = {PAYMENTS: Target(400, 100), CALLBACKS: Target(800, 50)}


@dataclass
class Measurement:
    endpoint: str
    result: WrkResult
    # What the database says happened (payment states, callback statuses), for the record.
    checks: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self, bare: WrkResult | None) -> dict[str, object]:
        data: dict[str, object] = {"endpoint": ENDPOINTS[self.endpoint], **self.result.to_json()}
        if bare is not None and self.endpoint != BARE:
            data["rps_ratio_to_bare"] = ratio(self.result.rps, bare.rps)
            data["p99_ratio_to_bare"] = ratio(self.result.p99_ms, bare.p99_ms)
        target = TARGETS.get(self.endpoint)
        if target is not None:
            data["target"] = target.describe()
            data["target_met"] = target.met(self.result)
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
    }


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


def describe_machine(info: dict[str, object]) -> str:
    return (
        f"{info['date']} | {info['nproc']} CPUs ({info['cpu'] or 'unknown CPU'}) | Linux {info['kernel']} | "
        f"Python {info['python']} | wrk {info['wrk']} | uvicorn {info['uvicorn']} | granian {info['granian']} | "
        f"FastAPI {info['fastapi']}"
    )


def table(server: str, measurements: dict[str, Measurement]) -> str:
    bare = measurements.get(BARE)
    header = (
        f"{'endpoint':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7} "
        f"{'rps/bare':>9} {'p99/bare':>9}  target"
    )
    lines = [f"== {server} ==", header, "-" * len(header)]
    for endpoint, measurement in measurements.items():
        result = measurement.result
        rps_ratio = p99_ratio = "-"
        if bare is not None and endpoint != BARE:
            rps_ratio = f"{ratio(result.rps, bare.result.rps) or 0:.3f}"
            p99_ratio = f"{ratio(result.p99_ms, bare.result.p99_ms) or 0:.1f}x"
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


def decide_server(results: dict[str, dict[str, Measurement]]) -> str:
    """Which server served the service's two endpoints faster (throughput first, then p99)."""
    if len(results) < 2:
        return "only one server measured: no comparison"
    (first, a), (second, b) = list(results.items())[:2]
    lines, score = [], 0
    for endpoint in (PAYMENTS, CALLBACKS):
        if endpoint not in a or endpoint not in b:
            continue
        ra, rb = a[endpoint].result, b[endpoint].result
        change = (rb.rps - ra.rps) / ra.rps * 100 if ra.rps else 0.0
        score += 1 if rb.rps > ra.rps else -1
        lines.append(
            f"  {endpoint}: {second} {rb.rps:.0f} req/s (p99 {rb.p99_ms:.1f} ms) vs {first} {ra.rps:.0f} req/s "
            f"(p99 {ra.p99_ms:.1f} ms): {change:+.1f}% throughput for {second}"
        )
    if score > 0:
        verdict = f"faster: {second}"
    elif score < 0:
        verdict = f"faster: {first}"
    else:
        verdict = "mixed: each server wins one endpoint"
    return "\n".join([verdict, *lines])
