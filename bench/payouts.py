"""Payout throughput and latency, on this machine, with every part real (bench/payout_stack.py): N payments
through the service, paid by Daraja-simulator callbacks, paid out on the chain simulator by the recovery
worker (one leader), the chain mining a block per transaction.

Prints: payouts completed per second (first payment paid → last payout completed), the median and p90 time
from a payment's callback (paid) to its payout completed, and the recovery time of a stuck transaction
(mining stopped: time until the worker replaces it at the same nonce, and from mining resumed to completed).

    .venv/bin/python -m bench.payouts [--payments 300] [--confirmations 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

from bench.payout_stack import PayoutStack, wait_for

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _pay(client: httpx.Client, n: int, ending: str = "00") -> str:
    body = {"phone": f"07{n:06d}{ending}", "package_id": "usdt-5", "wallet_address": WALLET}
    answer = client.post("/api/payments", json=body, headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"})
    answer.raise_for_status()
    return answer.json()["id"]


def _count(stack: PayoutStack, state: str) -> int:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM payments WHERE state = %s", (state,)).fetchone()[0]


def throughput(stack: PayoutStack, payments: int) -> dict[str, float]:
    with httpx.Client(base_url=stack.service_url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: _pay(client, n), range(payments)))
    wait_for(lambda: _count(stack, "completed") == len(ids), f"{len(ids)} payouts completed", 900)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT p.settled_at, o.completed_at FROM payments p JOIN payouts o ON o.payment_id = p.id"
            " WHERE p.id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
    latencies = sorted((done - paid).total_seconds() for paid, done in rows)
    span = (max(done for _, done in rows) - min(paid for paid, _ in rows)).total_seconds()
    return {
        "payouts": len(rows),
        "payouts_per_second": round(len(rows) / span, 1),
        "median_paid_to_completed_s": round(statistics.median(latencies), 2),
        "p90_paid_to_completed_s": round(latencies[int(len(latencies) * 0.9) - 1], 2),
    }


def stuck_recovery(stack: PayoutStack) -> dict[str, float]:
    stack.chain_control("mining", {"auto": False})
    with httpx.Client(base_url=stack.service_url, timeout=30) as client:
        payment_id = _pay(client, 999_999)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:

        def sent() -> int:
            return conn.execute(
                "SELECT count(*) FROM payout_transactions WHERE payment_id = %s AND sent_at IS NOT NULL", (payment_id,)
            ).fetchone()[0]

        wait_for(lambda: sent() >= 1, "the payout broadcast", 60, 0.05)
        broadcast = time.monotonic()
        wait_for(lambda: sent() >= 2, "the stuck payout replaced", 120, 0.05)
        replaced = time.monotonic() - broadcast
        stack.chain_control("mining", {"auto": True})
        resumed = time.monotonic()
        wait_for(lambda: _state(conn, payment_id) == "completed", "the replaced payout completed", 120, 0.05)
    return {"stuck_to_replaced_s": round(replaced, 2), "resumed_to_completed_s": round(time.monotonic() - resumed, 2)}


def _state(conn: psycopg.Connection, payment_id: str) -> str:
    return conn.execute("SELECT state FROM payments WHERE id = %s", (payment_id,)).fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=300, help="payments to pay out (default 300)")
    parser.add_argument("--confirmations", type=int, default=1, help="GOLIVE_PAYOUT_CONFIRMATIONS (default 1)")
    parser.add_argument("--stuck-seconds", type=float, default=3, help="GOLIVE_PAYOUT_STUCK_SECONDS (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.payments < 10:
        parser.error("--payments must be at least 10")
    settings = {
        "GOLIVE_WORKER_TICK_SECONDS": "0.2",
        "GOLIVE_WORKER_BATCH_SIZE": "200",
        "GOLIVE_PAYOUT_CONFIRMATIONS": str(args.confirmations),
        "GOLIVE_PAYOUT_STUCK_SECONDS": str(args.stuck_seconds),
    }
    with tempfile.TemporaryDirectory(prefix="golive-bench-payouts-", dir="/tmp") as workdir:
        stack = PayoutStack(Path(workdir), callback_delay=0.2, settings=settings).start()
        try:
            stack.start_worker("worker-a")
            started = time.monotonic()
            figures = {"throughput": throughput(stack, args.payments), "stuck": stuck_recovery(stack)}
            figures["run_seconds"] = round(time.monotonic() - started, 1)
            figures["settings"] = settings
        finally:
            stack.close()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
