"""The chaos run: payments driven through the real service while faults hit it at random, then the books
checked against the chain. Shared by the chaos test (tests/app/chaos) and usable by hand:

    .venv/bin/python -m tests.app.chaos.chaos_run --payments 2000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from eth_utils import to_checksum_address

from app.chain.token import TRANSFER_TOPIC
from app.payments.callback_token import callback_url
from bench.payout_stack import CALLBACK_SECRET, PayoutStack, wait_for

# Simulator outcomes by the phone number's last two digits (simulators/daraja/README.md), with their share.
ENDINGS = {"00": 0.55, "91": 0.1, "92": 0.1, "90": 0.1, "32": 0.08, "01": 0.07}
PAID_ENDINGS = {"00", "91", "92", "90"}
UNSETTLED = ("initiated", "submitted", "paid", "payout_pending", "broadcast", "confirming")
WORKER_SETTINGS = {
    "GOLIVE_WORKER_TICK_SECONDS": "0.3",
    "GOLIVE_WORKER_LEASE_TTL_SECONDS": "3",
    "GOLIVE_WORKER_BATCH_SIZE": "200",
    "GOLIVE_RECOVERY_QUERY_AFTER_SECONDS": "3",
    "GOLIVE_RECOVERY_QUERY_BACKOFF_INITIAL_SECONDS": "1",
    "GOLIVE_RECOVERY_QUERY_BACKOFF_MAX_SECONDS": "4",
    "GOLIVE_RECOVERY_QUERY_DEADLINE_SECONDS": "600",
    "GOLIVE_PAYOUT_STUCK_SECONDS": "2",
    "GOLIVE_PAYOUT_CONFIRMATIONS": "2",
    "GOLIVE_LOG_LEVEL": "WARNING",
}


@dataclass
class ChaosReport:
    created: dict[str, str] = field(default_factory=dict)  # payment id -> phone ending
    wallets: dict[str, str] = field(default_factory=dict)  # payment id -> wallet (lower case)
    refused: int = 0
    faults: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)
    settle_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    transfers: int = 0
    completed: int = 0

    def lines(self) -> list[str]:
        return [
            f"payments created: {len(self.created)} (refused: {self.refused})",
            f"faults injected: {dict(sorted(self.faults.items()))}",
            f"final states: {dict(sorted(self.states.items()))}",
            f"completed payouts: {self.completed}; Transfer events from the treasury: {self.transfers}",
            f"settled {self.settle_seconds:.0f} s after the last fault",
            f"problems: {self.problems or 'none'}",
        ]


class Chaos:
    def __init__(self, stack: PayoutStack, seed: int = 7):
        self.stack = stack
        self.random = random.Random(seed)
        self.report = ChaosReport()
        self.stop = threading.Event()
        self.worker_names = iter(f"worker-{n}" for n in range(1000))

    # -- traffic ---------------------------------------------------------------------------------------
    def drive(self, count: int, threads: int = 12) -> None:
        endings = self.random.choices(list(ENDINGS), weights=list(ENDINGS.values()), k=count)
        with httpx.Client(base_url=self.stack.service_url, timeout=30) as client, ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda item: self._pay(client, *item), enumerate(endings)))

    def _pay(self, client: httpx.Client, n: int, ending: str) -> None:
        wallet = to_checksum_address(os.urandom(20).hex())
        body = {"phone": f"07{n:06d}{ending}", "package_id": "usdt-5", "wallet_address": wallet}
        answer = client.post("/api/payments", json=body, headers={"Idempotency-Key": f"chaos-{uuid.uuid4().hex}"})
        if answer.status_code != 202:
            self.report.refused += 1
            return
        payment_id = answer.json()["id"]
        self.report.created[payment_id] = ending
        self.report.wallets[payment_id] = wallet.lower()

    # -- faults ----------------------------------------------------------------------------------------
    def inject(self) -> None:
        faults = (self._rpc_outage, self._stuck_chain, self._kill_leader, self._replay_callbacks)
        while not self.stop.wait(self.random.uniform(1.0, 2.5)):
            fault = self.random.choice(faults)
            self.report.faults[fault.__name__.strip("_")] += 1
            fault()

    def _rpc_outage(self) -> None:
        mode = self.random.choice(["error", "http503", "http429"])
        self.stack.chain_control("faults", {"fail_rate": 0.4, "fail_mode": mode})
        time.sleep(self.random.uniform(1, 3))
        self.stack.chain_control("faults/clear")

    def _stuck_chain(self) -> None:
        self.stack.chain_control("mining", {"auto": False})
        time.sleep(self.random.uniform(2, 4))  # longer than GOLIVE_PAYOUT_STUCK_SECONDS: replacements go out
        self.stack.chain_control("mining", {"auto": True})

    def _kill_leader(self) -> None:
        leader = self.stack.leader()
        if leader in self.stack.workers:
            self.stack.kill_worker(leader)
            self.stack.start_worker(next(self.worker_names))

    def _replay_callbacks(self) -> None:
        """Daraja sending a callback again, late: a stored body re-posted to its payment's address."""
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT payment_id, body FROM stk_callbacks ORDER BY random() LIMIT %s", (self.random.randint(5, 30),)
            ).fetchall()
        with httpx.Client(timeout=10) as client:
            for payment_id, body in rows:
                client.post(
                    callback_url(self.stack.service_url, CALLBACK_SECRET, payment_id),
                    content=bytes(body),
                    headers={"Content-Type": "application/json"},
                )

    # -- the books -------------------------------------------------------------------------------------
    def unsettled(self) -> int:
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM payments WHERE state = ANY(%s)", (list(UNSETTLED),)).fetchone()[0]

    def check(self) -> ChaosReport:
        report = self.report
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT p.id::text, p.state, p.needs_review, p.wallet_address, o.amount_units,"
                " (SELECT reason FROM payment_events e WHERE e.payment_id = p.id ORDER BY e.id DESC LIMIT 1)"
                " FROM payments p LEFT JOIN payouts o ON o.payment_id = p.id"
            ).fetchall()
        found = {row[0]: row for row in rows}
        report.states = Counter(row[1] for row in rows)
        vanished = set(report.created) - set(found)
        if vanished:
            report.problems.append(f"{len(vanished)} payments vanished")
        for payment_id, ending in report.created.items():
            row = found.get(payment_id)
            if row is None:
                continue
            _, state, review, _, _, reason = row
            if ending in PAID_ENDINGS and state != "completed" and not (review and reason):
                report.problems.append(f"paid payment {payment_id} ended {state} without a review reason")
            if ending not in PAID_ENDINGS and state not in ("failed",):
                report.problems.append(f"payment {payment_id} (ending {ending}) ended {state}, expected failed")
        completed = {row[3].lower(): int(row[4]) for row in rows if row[1] == "completed"}
        report.completed = len(completed)
        on_chain = self._transfers()
        report.transfers = sum(len(amounts) for amounts in on_chain.values())
        paid_twice = [wallet for wallet, amounts in on_chain.items() if len(amounts) > 1]
        if paid_twice:
            report.problems.append(f"{len(paid_twice)} wallets paid more than once")
        if {wallet: sum(amounts) for wallet, amounts in on_chain.items()} != completed:
            missing = set(completed) - set(on_chain)
            extra = set(on_chain) - set(completed)
            report.problems.append(
                f"on-chain transfers differ from completed payouts: {len(missing)} completed without a transfer,"
                f" {len(extra)} transfers without a completed payout"
            )
        return report

    def _transfers(self) -> dict[str, list[int]]:
        info = httpx.get(f"{self.stack.chain_url}/__chain__/info", timeout=10).json()
        token, treasury = info["token"]["address"], info["treasury"]["address"]
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_getLogs",
            "params": [
                {
                    "fromBlock": "0x0",
                    "toBlock": "latest",
                    "address": token,
                    "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + treasury[2:].lower()],
                }
            ],
        }
        logs = httpx.post(self.stack.chain_url, json=request, timeout=60).json()["result"]
        found: dict[str, list[int]] = {}
        for log in logs:
            found.setdefault("0x" + log["topics"][2][-40:], []).append(int(log["data"], 16))
        return found


def run(payments: int, workdir: Path, *, settle_seconds: float = 600, seed: int = 7) -> ChaosReport:
    stack = PayoutStack(workdir, callback_delay=0.2, block_time=0.5, settings=dict(WORKER_SETTINGS)).start()
    try:
        chaos = Chaos(stack, seed)
        for _ in range(2):
            stack.start_worker(next(chaos.worker_names))
        faults = threading.Thread(target=chaos.inject, name="chaos-faults", daemon=True)
        faults.start()
        chaos.drive(payments)
        wait_for(lambda: chaos.unsettled() < payments // 10, "most payments settled", settle_seconds)
        chaos.stop.set()
        faults.join()
        stack.chain_control("faults/clear")
        stack.chain_control("mining", {"auto": True})
        try:
            chaos.report.settle_seconds = wait_for(
                lambda: chaos.unsettled() == 0, "every payment settled", settle_seconds
            )
        except TimeoutError as exc:
            chaos.report.problems.append(str(exc))
        return chaos.check()
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=2000, help="payments to drive (default 2000)")
    parser.add_argument("--seed", type=int, default=7, help="the faults' random seed (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golive-chaos-", dir="/tmp") as workdir:
        report = run(args.payments, Path(workdir), seed=args.seed)
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
