"""What the outside sees: plain HTTP redirected to HTTPS, security headers on every answer, CORS only
for the configured origins, validation errors that name the problem, admin endpoints that refuse without a
valid key. (The 429 of the rate limiter: checks/ratelimit.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from checks.calls import request
from checks.context import Context
from checks.model import Result, failed, passed, unverified
from checks.registry import check
from checks.tls import target

REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": None,
    "referrer-policy": None,
    "content-security-policy": None,
}
HSTS = "strict-transport-security"


@check("http.redirect_https")
def redirect_https(ctx: Context, args: dict[str, Any]) -> Result:
    host, _, _ = target(ctx)
    port = int(ctx.config["http_port"])
    plain = f"http://{host}{'' if port == 80 else f':{port}'}"
    results = []
    for path in ("/api/health", "/api/payments"):
        command = f"curl -sI {plain}{path}"
        try:
            answer = httpx.get(f"{plain}{path}", follow_redirects=False, timeout=10)
        except httpx.HTTPError as exc:
            # Nothing answering plain HTTP is not "enforced": clients typing the bare name get nothing.
            return failed(f"nothing answers plain HTTP at {plain}: {type(exc).__name__}", command)
        location = answer.headers.get("location", "")
        if answer.status_code not in (301, 302, 307, 308) or not location.startswith("https://"):
            return failed(f"{plain}{path} answered {answer.status_code} without a redirect to https", command)
        results.append(f"{path} -> {answer.status_code} {location}")
    return passed("; ".join(results), f"curl -sI {plain}/api/health /api/payments")


@check("http.security_headers")
def security_headers(ctx: Context, args: dict[str, Any]) -> Result:
    required = dict(REQUIRED_HEADERS)
    if ctx.entry.startswith("https://"):
        required[HSTS] = None
    problems, seen = [], []
    for path in ("/api/health", "/api/packages", "/api/no-such-path"):
        answer = request(ctx, "GET", path, command=f"curl -sI {ctx.entry}{path}")
        for name, value in required.items():
            got = answer.headers.get(name)
            if got is None:
                problems.append(f"{path}: {name} missing")
            elif value is not None and got.lower() != value:
                problems.append(f"{path}: {name} is {got!r}, not {value!r}")
        seen.append(path)
    command = f"curl -sI {ctx.entry}{{{','.join(seen)}}}"
    if problems:
        return failed("; ".join(problems), command, len(problems))
    return passed(f"{', '.join(required)} on {', '.join(seen)}", command)


def configured_origins(ctx: Context) -> list[str]:
    configured = ctx.config["cors_origins"]
    if configured is None:
        raw = ctx.service_settings.get("GOLIVE_CORS_ORIGINS", "")
        configured = [item.strip() for item in raw.split(",") if item.strip()]
    return list(configured)


def _preflight(ctx: Context, origin: str, command: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return request(ctx, "OPTIONS", "/api/payments", headers=headers, command=command)


@check("http.cors")
def cors(ctx: Context, args: dict[str, Any]) -> Result:
    allowed = configured_origins(ctx)
    probe = ctx.config["cors_probe_origin"]
    command = f"curl -X OPTIONS {ctx.entry}/api/payments -H 'Origin: …' (each allowed origin and {probe})"
    problems, notes = [], []
    for origin in allowed:
        answer = _preflight(ctx, origin, command)
        if answer.headers.get("access-control-allow-origin") not in (origin, "*"):
            problems.append(f"{origin} (configured) is not allowed")
        else:
            notes.append(f"{origin} allowed")
    granted = _preflight(ctx, probe, command).headers.get("access-control-allow-origin")
    if granted in (probe, "*"):
        problems.append(f"{probe} (not configured) is allowed ({granted})")
    else:
        notes.append(f"{probe} refused")
    simple = request(ctx, "GET", "/api/packages", headers={"Origin": probe}, command=command)
    if simple.headers.get("access-control-allow-origin") in (probe, "*"):
        problems.append(f"GET with Origin {probe} gets access-control-allow-origin")
    if problems:
        return failed("; ".join(problems), command)
    return passed(f"{'; '.join(notes)} (configured: {', '.join(allowed) or 'none'})", command)


@check("http.validation")
def validation(ctx: Context, args: dict[str, Any]) -> Result:
    body = {"phone": "12", "package_id": "usdt-10", "wallet_address": "not-a-wallet"}
    command = f'curl -X POST {ctx.entry}/api/payments -d \'{{"phone": "12", "wallet_address": "not-a-wallet"}}\''
    answer = request(
        ctx, "POST", "/api/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}, command=command
    )
    if answer.status_code not in (400, 422):
        return failed(f"an invalid payment answered {answer.status_code}, not 422", command, answer.status_code)
    text = answer.text.lower()
    if "phone" not in text:
        return failed(f"{answer.status_code} without naming the bad field: {answer.text[:160]}", command)
    return passed(f"{answer.status_code} naming the problem: {answer.text[:160]}", command, answer.status_code)


@check("http.admin_auth")
def admin_auth(ctx: Context, args: dict[str, Any]) -> Result:
    path = "/api/admin/feature-flags"
    results = []
    for label, headers in (("no key", {}), ("a wrong key", {"x-api-key": "wrong-" + uuid.uuid4().hex})):
        answer = request(ctx, "GET", path, headers=headers, command=f"curl {ctx.entry}{path}")
        if answer.status_code == 429:
            return unverified(f"rate limited before the key was judged (429 with {label}); retry later")
        if answer.status_code not in (401, 403):
            return failed(f"with {label} {path} answered {answer.status_code}", f"curl {ctx.entry}{path}")
        results.append(f"{label}: {answer.status_code}")
    return passed("; ".join(results), f"curl {ctx.entry}{path} (no key; a wrong key)")
