"""Monitoring, asked of the environment's own Prometheus (`monitoring: {prometheus_url: ...}` in its description):
every scrape target up, the public entry point probed (uptime and certificate), the alert rules loaded and an
Alertmanager receiving them. An environment without a Prometheus (local) has nothing to ask: not applicable,
except staging and production, which must have one."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from checks.context import Context
from checks.model import CheckError, Result, Status, failed, passed, unverified
from checks.registry import check

UPTIME_JOB = "blackbox_https"
SETTLE_POLL_SECONDS = 2.0
SECONDS_A_DAY = 86400


class PrometheusError(Exception):
    """Prometheus did not answer, or answered an error."""


def prometheus_url(ctx: Context) -> str:
    """The environment's Prometheus; without one a CheckError (a failure in staging and production, elsewhere not
    applicable)."""
    if ctx.env.monitoring:
        return ctx.env.monitoring.prometheus_url.rstrip("/")
    where = "(monitoring: prometheus_url: in its description)"
    if ctx.strict:
        raise CheckError(f"{ctx.env.name} names no Prometheus {where}")
    raise CheckError(f"{ctx.env.name} has no Prometheus {where}", status=Status.NOT_APPLICABLE)


def api(base: str, path: str, timeout: float = 10, **params: str) -> Any:
    """The `data` of a Prometheus HTTP API answer."""
    try:
        answer = httpx.get(f"{base}{path}", params=params, timeout=timeout)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusError(f"{base}{path}: {type(exc).__name__}: {exc}") from exc
    if answer.status_code != 200 or body.get("status") != "success":
        raise PrometheusError(f"{base}{path} answered {answer.status_code}: {body.get('error', body)}")
    return body["data"]


@check("monitoring.targets_up")
def targets_up(ctx: Context, args: dict[str, Any]) -> Result:
    """Every target Prometheus scrapes (or those of `args.jobs`) answering."""
    base = prometheus_url(ctx)
    command = f"GET {base}/api/v1/targets?state=active"
    jobs_wanted = args.get("jobs")
    if jobs_wanted:
        command += f" (jobs {', '.join(jobs_wanted)})"
    # A target restarted a moment ago (a release's last host) may show its last failed scrape: ask again until
    # every target answers or the settle time is over.
    deadline = time.monotonic() + float(ctx.config["monitoring_settle_seconds"])
    while True:
        try:
            active = api(base, "/api/v1/targets", state="active")["activeTargets"]
        except PrometheusError as exc:
            return unverified(f"could not ask Prometheus: {exc}", command)
        if jobs_wanted:
            active = [t for t in active if t["labels"].get("job") in jobs_wanted]
        if all(t.get("health") == "up" for t in active) or time.monotonic() >= deadline:
            break
        time.sleep(SETTLE_POLL_SECONDS)
    if not active:
        return failed(
            "Prometheus scrapes nothing" + (f" of {', '.join(jobs_wanted)}" if jobs_wanted else ""), command, "0/0"
        )
    down = [t for t in active if t.get("health") != "up"]
    jobs = sorted({t["labels"].get("job", "?") for t in active})
    value = f"{len(active) - len(down)}/{len(active)}"
    if down:
        named = "; ".join(
            f"{t['labels'].get('job')} {t['labels'].get('instance')} {t.get('health')}: {t.get('lastError') or '-'}"
            for t in down
        )
        return failed(f"{value} targets up; down: {named}", command, value)
    return passed(f"{value} targets up (jobs {', '.join(jobs)})", command, value)


@check("monitoring.uptime_probe")
def uptime_probe(ctx: Context, args: dict[str, Any]) -> Result:
    base = prometheus_url(ctx)
    query = f'probe_success{{job="{UPTIME_JOB}"}}'
    command = f"PromQL at {base}: {query}; probe_ssl_earliest_cert_expiry - time()"
    try:
        probes = api(base, "/api/v1/query", query=query)["result"]
        expiry = api(base, "/api/v1/query", query=f'probe_ssl_earliest_cert_expiry{{job="{UPTIME_JOB}"}} - time()')
    except PrometheusError as exc:
        return unverified(f"could not ask Prometheus: {exc}", command)
    if not probes:
        return failed(f"nothing probes the entry point (no {query} series)", command)
    failing = [p["metric"].get("instance", "?") for p in probes if float(p["value"][1]) != 1]
    if failing:
        return failed(f"the uptime probe fails for {', '.join(failing)}", command)
    days = [float(series["value"][1]) / SECONDS_A_DAY for series in expiry["result"]]
    certificate = f"; certificate expires in {min(days):.0f} days" if days else ""
    probed = ", ".join(p["metric"].get("instance", "?") for p in probes)
    return passed(f"probing {probed}: up{certificate}", command, len(probes))


@check("monitoring.alerting")
def alerting(ctx: Context, args: dict[str, Any]) -> Result:
    """The rules loaded and healthy, and at least one Alertmanager taking Prometheus' alerts."""
    base = prometheus_url(ctx)
    command = f"GET {base}/api/v1/rules?type=alert, {base}/api/v1/alertmanagers, each Alertmanager's /api/v2/status"
    try:
        groups = api(base, "/api/v1/rules", type="alert")["groups"]
        managers = api(base, "/api/v1/alertmanagers")["activeAlertmanagers"]
    except PrometheusError as exc:
        return unverified(f"could not ask Prometheus: {exc}", command)
    rules = [rule for group in groups for rule in group.get("rules", [])]
    broken = [f"{rule['name']}: {rule.get('lastError')}" for rule in rules if rule.get("health") == "err"]
    minimum = int(args.get("min_alert_rules", 1))
    problems = []
    if len(rules) < minimum:
        problems.append(f"{len(rules)} alert rules loaded (at least {minimum} expected)")
    if broken:
        problems.append("rules failing to evaluate: " + "; ".join(broken))
    if not managers:
        problems.append("no Alertmanager receives the alerts")
    for manager in managers:
        silent = unanswered(manager["url"], base)
        if silent:
            problems.append(silent)
    firing = sorted({rule["name"] for rule in rules if rule.get("state") == "firing"})
    summary = (
        f"{len(rules)} alert rules in {len(groups)} groups, Alertmanager(s) "
        f"{', '.join(m['url'] for m in managers) or '-'}; firing now: {', '.join(firing) or 'none'}"
    )
    if problems:
        return failed("; ".join(problems) + f" ({summary})", command, len(rules))
    return passed(summary, command, len(rules))


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def unanswered(alerts_url: str, prometheus: str) -> str | None:
    """Why the Alertmanager behind Prometheus' push URL (…/api/v2/alerts) is not taking alerts, or None. One that
    Prometheus reaches on its own loopback runs on Prometheus' host: asked there."""
    parts = urlsplit(alerts_url)
    host = urlsplit(prometheus).hostname if parts.hostname in LOOPBACK else parts.hostname
    netloc = f"{host}:{parts.port}" if parts.port else str(host)
    status = f"{parts.scheme}://{netloc}/api/v2/status"
    try:
        answer = httpx.get(status, timeout=5)
    except httpx.HTTPError as exc:
        return f"Alertmanager {netloc} does not answer ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"Alertmanager {netloc} answered {answer.status_code} at {status}"
    return None
