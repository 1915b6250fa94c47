"""A payment end to end through the entry point where a simulator stands in for Safaricom (the
environment's synthetic_traffic): initiation (202), the STK push accepted, the callback processed, the
status updated to paid — and, with `outcome: completed`, its USDT paid out on the chain and confirmed;
a declined payer ending failed. Elsewhere a real payment is a person's job."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from checks.context import Context
from checks.model import Result, failed, needs_signoff, passed
from checks.registry import check

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
# The Daraja simulator's outcome by the phone's last two digits.
ENDINGS = {"paid": "00", "completed": "00", "failed": "01"}
# Paid, and maybe already being paid out (the worker's business): a "paid" check passes in any of these.
PAID_STATES = ("paid", "payout_pending", "broadcast", "confirming", "completed")
FINAL = {"failed", "unknown", "completed", "payout_failed"}


def pay(ctx: Context, outcome: str, timeout: float = 30) -> Result:
    phone = f"07{uuid.uuid4().int % 10**6:06d}{ENDINGS[outcome]}"
    body = {"phone": phone, "package_id": "usdt-5", "wallet_address": WALLET}
    command = f"POST {ctx.entry}/api/payments (simulator payer ending {ENDINGS[outcome]}), then GET /api/payments/<id>"
    started = time.monotonic()
    seen: list[str] = []
    try:
        with ctx.http() as client:
            created = client.post("/api/payments", json=body, headers={"Idempotency-Key": f"check-{uuid.uuid4().hex}"})
            if created.status_code != 202:
                return failed(f"initiation answered {created.status_code}: {created.text[:160]}", command)
            payment_id = created.json()["id"]
            while time.monotonic() - started < timeout:
                state = client.get(f"/api/payments/{payment_id}").json()["state"]
                if not seen or seen[-1] != state:
                    seen.append(state)
                if state in FINAL or (outcome == "paid" and state in PAID_STATES):
                    break
                time.sleep(0.2)
    except httpx.HTTPError as exc:
        return failed(f"no answer: {type(exc).__name__}", command)
    path = " -> ".join(seen)
    elapsed = time.monotonic() - started
    if seen and (seen[-1] == outcome or (outcome == "paid" and seen[-1] in PAID_STATES)):
        return passed(f"payment {payment_id}: {path} in {elapsed:.1f} s", command, round(elapsed, 2))
    return failed(f"payment {payment_id}: {path or 'no state'}, expected {outcome} within {timeout:.0f} s", command)


@check("payments.end_to_end")
def end_to_end(ctx: Context, args: dict[str, Any]) -> Result:
    outcome = args.get("outcome", "paid")
    if not ctx.env.synthetic_traffic.enabled:
        return needs_signoff(
            f"{ctx.env.name} has no simulator: a person makes a real payment ({outcome}) and signs off"
        )
    return pay(ctx, outcome, timeout=float(args.get("timeout", 30)))
