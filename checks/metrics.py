"""The success criteria from the service's own /metrics (every instance, summed since each started):
HTTP error rate, p95 latency and payment success against the checklist's thresholds (the release gates'
parsing and judging, foundation/metrics/gates.py), callbacks processed, metrics exposed, uptime since the release."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from checks.context import Context
from checks.model import Result, failed, not_applicable, passed, unverified, worst
from checks.registry import check
from foundation.metrics import gates

NAMES = {"error_rate": "error_rate", "latency": "p95_latency", "payment_success": "payment_success"}


def thresholds(ctx: Context, args: dict[str, Any]) -> gates.Thresholds:
    keys = ("max_error_rate", "max_p95_seconds", "min_payment_success", "min_requests", "min_payments")
    return gates.Thresholds(**{key: args.get(key, ctx.config[key]) for key in keys})


def judged(ctx: Context, args: dict[str, Any], gate: str) -> Result:
    instances = ctx.instances.named()
    command = "sum of /metrics of " + ", ".join(instances) + " since each instance started"
    try:
        sample = gates.scrape(list(instances.values()))
    except gates.GateScrapeError as exc:
        return failed(str(exc), command)
    result = next(r for r in gates.evaluate(sample, thresholds(ctx, args)) if r.name == NAMES[gate])
    value = None if result.value is None else round(result.value, 4)
    if result.verdict == "inconclusive":
        return unverified(f"could not judge: {result.detail}", command, value)
    return (passed if result.verdict == "pass" else failed)(result.detail, command, value)


@check("metrics.error_rate")
def error_rate(ctx: Context, args: dict[str, Any]) -> Result:
    return judged(ctx, args, "error_rate")


@check("metrics.latency")
def latency(ctx: Context, args: dict[str, Any]) -> Result:
    return judged(ctx, args, "latency")


@check("metrics.payment_success")
def payment_success(ctx: Context, args: dict[str, Any]) -> Result:
    return judged(ctx, args, "payment_success")


@check("metrics.all")
def all_criteria(ctx: Context, args: dict[str, Any]) -> Result:
    return worst([judged(ctx, args, gate) for gate in NAMES])


def families(url: str) -> dict[str, list[Any]]:
    response = httpx.get(gates.metrics_url(url), timeout=10)
    response.raise_for_status()
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


@check("metrics.exposed")
def exposed(ctx: Context, args: dict[str, Any]) -> Result:
    wanted = ("golive_http_request_duration_seconds", "golive_payment_transitions", "golive_callbacks")
    if ctx.fleet.deployed().current is None:
        return not_applicable(f"nothing is deployed on {ctx.env.name} yet: measured after the first deploy")
    results = []
    for instance, url in ctx.instances.named().items():
        command = f"curl {gates.metrics_url(url)}"
        try:
            found = families(url)
        except (httpx.HTTPError, ValueError) as exc:
            results.append(failed(f"{instance}: no metrics ({type(exc).__name__})", command))
            continue
        missing = [name for name in wanted if name not in found]
        if missing:
            results.append(failed(f"{instance}: lacks {', '.join(missing)}", command))
        else:
            results.append(passed(f"{instance}: {len(found)} metric families", command))
    return worst(results)


@check("metrics.callbacks")
def callbacks(ctx: Context, args: dict[str, Any]) -> Result:
    """Callbacks are processed: none left in error and conflicts are flagged, not silently dropped."""
    totals: dict[str, float] = {}
    instances = ctx.instances.named()
    command = "golive_callbacks_total by status, summed over " + ", ".join(instances)
    for instance, url in instances.items():
        try:
            for sample in families(url).get("golive_callbacks", []):
                if sample.name == "golive_callbacks_total":
                    status = sample.labels.get("status", "?")
                    totals[status] = totals.get(status, 0) + sample.value
        except (httpx.HTTPError, ValueError) as exc:
            return failed(f"{instance}: no metrics ({type(exc).__name__})", command)
    processed = totals.get("applied", 0) + totals.get("duplicate", 0) + totals.get("ignored", 0)
    bad = {status: count for status, count in totals.items() if status in ("conflict", "error", "failed")}
    shown = ", ".join(f"{status} {count:g}" for status, count in sorted(totals.items())) or "none"
    if bad:
        return failed(f"callbacks needing review: {shown}", command)
    if processed == 0:
        return unverified(f"no callback processed yet ({shown})", command)
    return passed(f"callbacks: {shown}", command, processed)


@check("uptime.since_release")
def uptime(ctx: Context, args: dict[str, Any]) -> Result:
    """Every instance has been up since the release (no restart after it): availability of the instances
    over the time since the release, from process_start_time_seconds."""
    release = ctx.last_release()
    if release is None:
        return unverified("could not check: no release of this environment in the audit log")
    # A release being made has no time yet: its instances restarted moments ago, as they should.
    released_at = datetime.fromisoformat(release["at"]).timestamp() if "at" in release else ctx.now.timestamp()
    slack = float(ctx.config["uptime_slack_seconds"])
    instances = ctx.instances.named()
    command = "process_start_time_seconds of " + ", ".join(instances)
    results = []
    for instance, url in instances.items():
        try:
            samples = families(url).get("process_start_time_seconds", [])
        except (httpx.HTTPError, ValueError) as exc:
            results.append(failed(f"{instance} is down ({type(exc).__name__})", command))
            continue
        if not samples:
            results.append(unverified(f"{instance} does not expose process_start_time_seconds", command))
            continue
        started = samples[0].value
        up = ctx.now.timestamp() - started
        if started > released_at + slack:
            gap = started - released_at
            results.append(failed(f"{instance} restarted {gap:.0f} s after the release (up {up:.0f} s)", command, up))
        else:
            results.append(passed(f"{instance} up {up:.0f} s, since the release", command, round(up)))
    return worst(results)
