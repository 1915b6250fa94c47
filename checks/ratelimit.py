"""The rate limiter answers 429 once a client has spent its allowance, proven however fast the controller is.

Who answers the 429: the service itself on every environment (app/http/rate_limit.py: a token bucket per client
address and route group in each instance process, `GOLIVE_RATE_LIMIT_BURST` at once, refilled at
`GOLIVE_RATE_LIMIT_PER_MINUTE`). The lab's nginx limits in front of it as well and may answer first; any 429
passes. Staging's and production's ALB does not limit.

Where the allowance comes from: the settings file the service loads (`ctx.service_settings`, on the first web
host), the service's own defaults where it sets nothing — the one place it is set; no count is copied into the
environment's description. Each instance keeps its own buckets, so through a balancer that spreads the requests
the fleet lets through at most instances x (burst + rate x t) in t seconds (this assumes the service sees the
client's own address: the balancer is among its trusted proxies).

How: GETs of `rate_limit_path` pipelined on a few HTTP/1.1 connections (checks/pipelined.py: the server, not the
controller, sets the pace), in rounds sized from the allowance and the time since the first was written. A 429
passes. More answers than the fleet could allow in that time, none a 429, fails, naming both. Still short of that
after `rate_limit_max_seconds` (the entry point answers more slowly than the allowance refills) could not check."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import h11
from pydantic import TypeAdapter

from app.contract import Settings as ServiceSettings
from checks.context import Context
from checks.model import CheckError, Result, Status, failed, passed, unverified
from checks.pipelined import statuses
from checks.registry import check
from foundation.transport import CommandFailed, HostUnreachable

CONNECTIONS = 8
PER_CONNECTION = 500  # requests pipelined on one connection per round (nginx closes one after 1000 by default)
MARGIN = 1.5  # a round asks for this many times what the fleet still allows (the refill goes on while it is answered)


@dataclass(frozen=True)
class Allowance:
    burst: int
    per_second: float
    instances: int  # processes the requests may reach, each with its own bucket

    def allowed(self, seconds: float) -> float:
        """The most the fleet lets through in `seconds` (each bucket full at the start)."""
        return self.instances * (self.burst + self.per_second * seconds)

    def describe(self) -> str:
        one = f"{self.burst} at once + {self.per_second:g}/s"
        return one if self.instances == 1 else f"{self.instances} instances x ({one})"


def setting(values: dict[str, str], name: str) -> Any:
    """A service setting as the service reads it from its settings file, its default where the file is silent."""
    field = ServiceSettings.model_fields[name]
    raw = values.get(f"GOLIVE_{name.upper()}")
    return field.default if raw is None else TypeAdapter(field.annotation).validate_python(raw)


def configured(ctx: Context, command: str) -> Allowance:
    where = f"{ctx.settings_file} on {ctx.env.web_hosts[0]}"
    try:
        values = ctx.service_settings
    except (CommandFailed, HostUnreachable) as exc:
        raise CheckError(
            f"could not check: the allowance is unknown, {where} unreadable: {str(exc).splitlines()[0]}",
            command=command,
            status=Status.UNVERIFIED,
        ) from exc
    if not setting(values, "rate_limit_enabled"):
        raise CheckError(f"the service does not limit: GOLIVE_RATE_LIMIT_ENABLED is off in {where}", command=command)
    instances = 1 if ctx.env.load_balancer == "none" else len(ctx.instances.targets())
    per_second = setting(values, "rate_limit_per_minute") / 60
    return Allowance(setting(values, "rate_limit_burst"), per_second, instances)


def next_round(allowance: Allowance, answered: int, elapsed: float, budget: float) -> int:
    """Requests for the next round: past what the fleet allows by now, with a margin; never more than the rest of
    the time budget holds at the pace seen so far."""
    wanted = (allowance.allowed(elapsed) - answered) * MARGIN
    if answered:
        wanted = min(wanted, answered / elapsed * max(budget - elapsed, 1))
    return int(min(max(wanted, 2 * CONNECTIONS), CONNECTIONS * PER_CONNECTION))


@check("http.rate_limit")
def rate_limit(ctx: Context, args: dict[str, Any]) -> Result:
    path, budget = ctx.config["rate_limit_path"], float(ctx.config["rate_limit_max_seconds"])
    command = f"GET {ctx.entry}{path} pipelined on {CONNECTIONS} HTTP/1.1 connections, in rounds until a 429"
    allowance = configured(ctx, command)
    command += f" (allowance {allowance.describe()}, from {ctx.settings_file})"
    seen: Counter[int] = Counter()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        while True:
            elapsed = time.monotonic() - started
            count = next_round(allowance, seen.total(), elapsed, budget)
            shares = [count // CONNECTIONS + (i < count % CONNECTIONS) for i in range(CONNECTIONS)]
            try:
                rounds = list(pool.map(lambda n: statuses(ctx.entry, path, n, verify=ctx.tls_verify), shares))
            except (OSError, h11.ProtocolError) as exc:
                raise CheckError(f"{ctx.entry} got no answer ({type(exc).__name__}: {exc})", command=command) from exc
            answers = [status for answered in rounds for status in answered]
            if not answers:
                raise CheckError(f"{count} requests got no answer from {ctx.entry}", command=command)
            seen.update(answers)
            elapsed, sent = time.monotonic() - started, seen.total()
            if 429 in seen:
                return passed(f"429 after {sent} requests in {elapsed:.2f} s ({_seen(seen)})", command, sent)
            allowed = allowance.allowed(elapsed)
            spent = f"{sent} requests in {elapsed:.2f} s ({_seen(seen)}) against an allowance of"
            if sent > allowed:
                return failed(f"no 429 after {spent} {allowance.describe()} = {allowed:.0f}", command, sent)
            if elapsed >= budget:
                return unverified(
                    f"could not outspend the allowance: {spent} {allowance.describe()} = {allowed:.0f}: "
                    f"{ctx.entry} answers {sent / elapsed:.0f}/s, more slowly than it refills",
                    command,
                    sent,
                )


def _seen(seen: Counter[int]) -> str:
    return ", ".join(f"{code} x{count}" for code, count in sorted(seen.items()))
