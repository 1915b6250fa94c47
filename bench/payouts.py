"""Payout throughput and latency, on this machine, with every part real (bench/payout_stack.py): N payments
through the service, paid by Daraja-simulator callbacks, paid out on the chain simulator by the recovery
worker (one leader), the chain mining a block per transaction.

Prints, each as the median and p90 time from a payment's callback (paid) to its payout completed:
- payments arriving at a steady rate (--steady at --rate per second): what a buyer waits;
- a burst of --payments at once: payouts completed per second (first paid → last completed);
and the recovery of a stuck transaction (mining stopped: time until the worker replaces it at the same
nonce, then from mining resumed to completed).

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


def latency(stack: PayoutStack, payments: int, rate: float) -> dict[str, float]:
    """Payments arriving at a steady rate the worker keeps up with: the time a buyer waits for the USDT."""
    ids = []
    with httpx.Client(base_url=stack.service_url, timeout=30) as client:
        for n in range(payments):
            ids.append(_pay(client, 500_000 + n))
            time.sleep(1 / rate)
    return _figures(stack, ids)


def throughput(stack: PayoutStack, payments: int) -> dict[str, float]:
    """A burst of payments at once: payouts completed per second while the worker works through them."""
    with httpx.Client(base_url=stack.service_url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: _pay(client, n), range(payments)))
    return _figures(stack, ids)


def _figures(stack: PayoutStack, ids: list[str]) -> dict[str, float]:
    def completed() -> bool:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT count(*) FROM payments WHERE state = 'completed' AND id = ANY(%s::uuid[])", (ids,)
            ).fetchone()[0] == len(ids)

    wait_for(completed, f"{len(ids)} payouts completed", 900)
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
    parser.add_argument("--steady", type=int, default=40, help="payments at a steady rate first (default 40)")
    parser.add_argument("--rate", type=float, default=2.0, help="their rate per second (default 2)")
    parser.add_argument("--block-time", type=float, default=0, help="chain: 0 = a block per transaction (default)")
    parser.add_argument("--confirmations", type=int, default=1, help="GOLIVE_PAYOUT_CONFIRMATIONS (default 1)")
    parser.add_argument("--stuck-seconds", type=float, default=3, help="GOLIVE_PAYOUT_STUCK_SECONDS (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if min(args.payments, args.steady) < 10:
        parser.error("--payments and --steady must be at least 10")
    settings = {
        "GOLIVE_WORKER_TICK_SECONDS": "0.2",
        "GOLIVE_WORKER_BATCH_SIZE": "200",
        "GOLIVE_PAYOUT_CONFIRMATIONS": str(args.confirmations),
        "GOLIVE_PAYOUT_STUCK_SECONDS": str(args.stuck_seconds),
    }
    with tempfile.TemporaryDirectory(prefix="golive-bench-payouts-", dir="/tmp") as workdir:
        stack = PayoutStack(Path(workdir), callback_delay=0.2, block_time=args.block_time, settings=settings).start()
        try:
            stack.start_worker("worker-a")
            started = time.monotonic()
            figures = {
                "latency_at_steady_rate": latency(stack, args.steady, args.rate),
                "throughput_burst": throughput(stack, args.payments),
                "stuck": stuck_recovery(stack),
            }
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
