"""Smoke tests after a deploy, through the environment's entry point: health, version, M-Pesa auth,
and — where a simulator stands in for Safaricom — a payment end to end."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from app.contract import PAID_STATES
from foundation.environment import Environment
from foundation.reporter import Reporter

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class SmokeFailed(Exception):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailed(message)


def run(env: Environment, release_id: str, reporter: Reporter, *, payment_timeout: float = 20.0) -> dict[str, Any]:
    """Each smoke test in turn (the first that fails stops them: SmokeFailed); a line for each that passed."""
    results: dict[str, Any] = {}
    with httpx.Client(base_url=env.entry_url, timeout=10, verify=env.tls_verify) as client:
        health = client.get("/api/health")
        _check(health.status_code == 200, f"/api/health answered {health.status_code}: {health.text[:200]}")
        results["health"] = "ok"
        reporter.line("health: ok")
        version = client.get("/api/version").json()
        _check(version.get("release_id") == release_id, f"/api/version says {version.get('release_id')}")
        _check(
            version.get("schema_revision") == version.get("schema_head"),
            f"schema {version.get('schema_revision')} is not the code's head {version.get('schema_head')}",
        )
        results["schema"] = version.get("schema_revision")
        reporter.line(f"version: {release_id}, schema {results['schema']}")
        auth = client.post("/api/mpesa/test-auth")
        _check(auth.status_code == 200, f"/api/mpesa/test-auth answered {auth.status_code}: {auth.text[:200]}")
        results["mpesa_auth"] = "ok"
        reporter.line("M-Pesa auth: ok")
        chain = client.get("/api/blockchain/health")
        _check(chain.status_code == 200, f"/api/blockchain/health answered {chain.status_code}: {chain.text[:300]}")
        results["chain_head"] = chain.json()["head"]["number"]
        reporter.line(f"blockchain RPC: head {results['chain_head']}")
        if env.synthetic_traffic.enabled:
            results["payment_seconds"] = round(_payment(client, payment_timeout), 2)
            reporter.line(f"a payment end to end (simulator): paid in {results['payment_seconds']} s")
    return results


def _payment(client: httpx.Client, timeout: float) -> float:
    started = time.monotonic()
    phone = f"07{uuid.uuid4().int % 10**6:06d}00"
    body = {"phone": phone, "package_id": "usdt-5", "wallet_address": WALLET}
    created = client.post("/api/payments", json=body, headers={"Idempotency-Key": f"smoke-{uuid.uuid4().hex}"})
    _check(created.status_code == 202, f"POST /api/payments answered {created.status_code}: {created.text[:200]}")
    payment_id = created.json()["id"]
    while time.monotonic() - started < timeout:
        state = client.get(f"/api/payments/{payment_id}").json()["state"]
        if state in PAID_STATES:  # paid, and maybe already on its way on-chain (the worker's business)
            return time.monotonic() - started
        _check(state in ("initiated", "submitted"), f"smoke payment {payment_id} ended {state}")
        time.sleep(0.2)
    raise SmokeFailed(f"smoke payment {payment_id} not paid within {timeout:.0f} s")
