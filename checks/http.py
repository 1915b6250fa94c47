"""The service's own endpoints, as the checklist's curl lines call them: health (every instance), M-Pesa
auth, blockchain health, version, response time, concurrent requests, the API description, recovery."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx

from checks.calls import admin_headers, request
from checks.context import Context
from checks.model import CheckError, Result, Status, failed, not_applicable, passed, result_of, worst
from checks.registry import check


@check("http.health")
def health(ctx: Context, args: dict[str, Any]) -> Result:
    """Every instance directly (probes bypass the balancer) and the entry point."""
    bases = {url: name for name, url in ctx.instances.named().items()}
    bases.setdefault(ctx.entry, ctx.entry)
    return worst([result_of(_health_of, ctx, base, name) for base, name in bases.items()])


def _health_of(ctx: Context, base: str, name: str) -> Result:
    command = f"curl {base}/api/health"
    answer = request(ctx, "GET", "/api/health", base=base, command=command)
    if answer.status_code != 200:
        return failed(f"{name}: {answer.status_code} {answer.text[:120]}", command)
    body = answer.json()
    return passed(f"{name}: {body.get('status')}, database {body.get('database')}", command)


@check("http.version")
def version(ctx: Context, args: dict[str, Any]) -> Result:
    """Every instance runs the release this environment released, with its settings loaded (release id)."""
    release = ctx.last_release()
    expected = release.get("release_id") if release else None
    instances = ctx.instances.named().items()
    return worst([result_of(_version_of, ctx, base, name, expected) for name, base in instances])


def _version_of(ctx: Context, base: str, name: str, expected: str | None) -> Result:
    command = f"curl {base}/api/version"
    body = request(ctx, "GET", "/api/version", base=base, command=command).json()
    running = body.get("release_id")
    if expected and running != expected:
        return failed(f"{name} runs {running}, the release is {expected}", command, running)
    if running in (None, "dev"):
        return failed(f"{name} has no release id (GOLIVE_RELEASE_ID not loaded)", command, running)
    return passed(f"{name}: {running}, schema {body.get('schema_revision')}", command, running)


@check("http.mpesa_auth")
def mpesa_auth(ctx: Context, args: dict[str, Any]) -> Result:
    command = f"curl -X POST {ctx.entry}/api/mpesa/test-auth"
    answer = request(ctx, "POST", "/api/mpesa/test-auth", command=command)
    if answer.status_code != 200:
        return failed(f"{answer.status_code}: {answer.text[:200]}", command, answer.status_code)
    return passed(answer.json().get("detail", "ok"), command, answer.status_code)


@check("http.blockchain_health")
def blockchain_health(ctx: Context, args: dict[str, Any]) -> Result:
    command = f"curl {ctx.entry}/api/blockchain/health"
    answer = request(ctx, "GET", "/api/blockchain/health", command=command)
    if answer.status_code == 404:
        return failed("404: this release has no /api/blockchain/health endpoint (the chain is not checked)", command)
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200:
        problems = "; ".join(body.get("problems") or []) or answer.text[:200]
        return failed(f"{answer.status_code}: {problems}", command, answer.status_code)
    head, treasury = body.get("head") or {}, body.get("treasury") or {}
    return passed(
        f"chain {body.get('chain_id')}: head {head.get('number')} ({head.get('age_seconds')} s old), "
        f"RPC {body.get('rpc_latency_ms')} ms, treasury {treasury.get('usdt', '?')} USDT",
        command,
        answer.status_code,
    )


@check("http.integrations")
def integrations(ctx: Context, args: dict[str, Any]) -> Result:
    return worst([mpesa_auth(ctx, args), blockchain_health(ctx, args)])


@check("http.response_time")
def response_time(ctx: Context, args: dict[str, Any]) -> Result:
    count, limit = int(ctx.config["response_time_requests"]), float(ctx.config["max_response_seconds"])
    path = args.get("path", "/api/health")
    command = f'{count} x curl -w "%{{time_total}}" {ctx.entry}{path}'
    timings = []
    with ctx.http() as client:
        for _ in range(count):
            started = time.perf_counter()
            try:
                answer = client.get(path)
            except httpx.HTTPError as exc:
                return failed(f"GET {path} got no answer: {type(exc).__name__}", command)
            timings.append(time.perf_counter() - started)
            if answer.status_code >= 500:
                return failed(f"GET {path} answered {answer.status_code}", command)
    p95 = statistics.quantiles(timings, n=20)[-1] if len(timings) > 1 else timings[0]
    detail = f"p95 {p95 * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {count} requests (at most {limit:g} s)"
    return (passed if p95 <= limit else failed)(detail, command, round(p95, 4))


@check("http.concurrency")
def concurrency(ctx: Context, args: dict[str, Any]) -> Result:
    count = int(ctx.config["concurrent_requests"])
    path = "/api/health"  # the process and its database pool, outside the rate limit (gates judge the API)
    command = f"{count} concurrent GET {ctx.entry}{path}"

    def one(_: int) -> Result:
        answer = request(ctx, "GET", path, command=command)
        return (passed if answer.status_code == 200 else failed)(str(answer.status_code), command)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(partial(result_of, one), range(count)))
    elapsed = time.perf_counter() - started
    bad = [a.detail for a in answers if a.status != Status.PASS]
    if bad:
        return failed(f"{len(bad)} of {count} concurrent requests failed: {bad[0]}", command, len(bad))
    return passed(f"{count} concurrent requests all answered 200 in {elapsed:.2f} s", command, round(elapsed, 3))


@check("http.openapi")
def openapi(ctx: Context, args: dict[str, Any]) -> Result:
    command = f"curl {ctx.entry}/openapi.json"
    answer = request(ctx, "GET", "/openapi.json", command=command)
    if answer.status_code != 200:
        return failed(f"the API description is not published: {answer.status_code}", command)
    paths = answer.json().get("paths", {})
    if "/api/payments" not in paths:
        return failed("the published description lacks /api/payments", command)
    return passed(f"published: {len(paths)} paths", command, len(paths))


@check("http.admin_endpoint")
def admin_endpoint(ctx: Context, args: dict[str, Any]) -> Result:
    """An admin endpoint answers 200 with the release tooling's key (args: path)."""
    path = args["path"]
    command = f"curl -H 'x-api-key: <release tooling key>' {ctx.entry}{path}"
    answer = request(ctx, "GET", path, headers=admin_headers(ctx, command), command=command)
    if answer.status_code == 404:
        return failed(f"404: this release has no {path}", command, 404)
    if answer.status_code != 200:
        return failed(f"{answer.status_code}: {answer.text[:200]}", command, answer.status_code)
    return passed(f"{path} answers: {answer.text[:160]}", command, 200)


@check("balancer.answers")
def balancer_answers(ctx: Context, args: dict[str, Any]) -> Result:
    """The load balancer answers on the entry point and routes /api/health to an instance."""
    if ctx.env.load_balancer == "none":
        return not_applicable(f"{ctx.env.name} has no load balancer (one entry port)")
    command = f"curl {ctx.entry}/api/health"
    try:
        answer = request(ctx, "GET", "/api/health", command=command)
    except CheckError as error:
        raise CheckError(
            f"the {ctx.env.load_balancer} does not answer: {error.result.detail}", command=command
        ) from error
    if answer.status_code in (502, 503, 504) and ctx.fleet.deployed().current is None:
        return not_applicable(
            f"nothing is deployed on {ctx.env.name} yet: the {ctx.env.load_balancer} answers "
            f"{answer.status_code} with no instance behind it"
        )
    if answer.status_code in (502, 503, 504):
        return failed(
            f"the {ctx.env.load_balancer} answers {answer.status_code}: no healthy instance behind it", command
        )
    return passed(f"the {ctx.env.load_balancer} answers {answer.status_code}", command, answer.status_code)
