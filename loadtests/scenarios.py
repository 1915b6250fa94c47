"""The users of a load test, modelled on real use of the service:

- Buyer: reads the catalogue, starts a payment (POST /api/payments with a fresh Idempotency-Key, a simulator
  phone, a package, a valid EIP-55 wallet), sometimes retries it with the same key as a client whose answer
  was lost would, then polls GET /api/payments/{id} until paid or failed (the simulator pays through its
  callback). Each payment is also recorded as a "PAYMENT settled" entry: its time from POST to the final
  state, and a failure when it did not settle as its phone's scenario says within GOLIVE_LOADTEST_SETTLE_SECONDS.
- Reader: the background — health, version and packages reads.
- Admin: an operator (x-api-key) reading the feature flags, now and then setting a harmless probe flag.

Weights and think times come from loadtests.knobs (environment variables); `configure` applies them.
"""

from __future__ import annotations

import os
import random
import secrets
import time
import uuid

import gevent
from eth_utils import to_checksum_address
from locust import FastHttpUser, between, task

from loadtests.contract import ADMIN_KEY_VARIABLE, PAYMENT_EVENT, SETTLED
from loadtests.knobs import Knobs, expected_state

# With a chain and a worker (the lab), a paid payment moves on to its USDT payout within a second or two: a poll
# that finds it payout_pending, broadcast, confirming or completed has seen it paid.
PAID_OR_LATER = ("paid", "payout_pending", "broadcast", "confirming", "completed")
TERMINAL = (*PAID_OR_LATER, "failed", "unknown", "payout_failed")
KNOBS = Knobs()


def wallet() -> str:
    return to_checksum_address("0x" + secrets.token_hex(20))


def phone(endings: tuple[str, ...]) -> str:
    """A Kenyan mobile number in the 07… form whose last two digits choose the simulator's outcome."""
    return f"07{random.randrange(10**6):06d}{random.choice(endings)}"


class _User(FastHttpUser):
    abstract = True
    network_timeout = KNOBS.request_timeout
    connection_timeout = KNOBS.request_timeout
    insecure = not KNOBS.verify_tls


class Buyer(_User):
    weight = KNOBS.buyer_weight
    wait_time = between(KNOBS.think_min, KNOBS.think_max)

    def on_start(self) -> None:
        self.packages = list(KNOBS.package_ids)
        if not self.packages:
            with self.client.get("/api/packages", name="/api/packages", catch_response=True) as response:
                if response.status_code == 200:
                    self.packages = [package["id"] for package in response.json()]
                    response.success()
                else:
                    response.failure(f"packages answered {response.status_code}")

    @task
    def buy(self) -> None:
        if not self.packages:
            self.on_start()
            return
        body = {
            "phone": phone(KNOBS.phone_endings),
            "package_id": random.choice(self.packages),
            "wallet_address": wallet(),
        }
        key = uuid.uuid4().hex
        started = time.monotonic()
        payment_id = self._start(body, key)
        if payment_id is None:
            return
        if random.random() < KNOBS.retry_share:
            self._retry(body, key, payment_id)
        self._follow(payment_id, expected_state(body["phone"]), started)

    def _start(self, body: dict, key: str) -> str | None:
        with self.client.post(
            "/api/payments", json=body, headers={"Idempotency-Key": key}, name="/api/payments", catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"POST /api/payments answered {response.status_code}: {(response.text or '')[:120]}")
                return None
            response.success()
            return response.json()["id"]

    def _retry(self, body: dict, key: str, payment_id: str) -> None:
        with self.client.post(
            "/api/payments",
            json=body,
            headers={"Idempotency-Key": key},
            name="/api/payments (retry)",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or response.json().get("id") != payment_id:
                response.failure(
                    f"a retry with the same Idempotency-Key answered {response.status_code}, not the payment"
                )
            else:
                response.success()

    def _follow(self, payment_id: str, expected: str, started: float) -> None:
        state = "submitted"
        while time.monotonic() - started < KNOBS.settle_seconds:
            gevent.sleep(KNOBS.poll_seconds)
            with self.client.get(
                f"/api/payments/{payment_id}", name="/api/payments/[id]", catch_response=True
            ) as response:
                if response.status_code != 200:
                    response.failure(f"GET /api/payments/[id] answered {response.status_code}")
                    continue
                response.success()
                state = response.json()["state"]
                state = "paid" if state in PAID_OR_LATER else state
            if state in TERMINAL:
                break
        problem = None
        if state != expected:
            problem = (
                f"ended {state}, its phone {'pays' if expected == 'paid' else 'declines'}"
                if state in TERMINAL
                else f"not settled within {KNOBS.settle_seconds:g} s (still {state})"
            )
        self.environment.events.request.fire(
            request_type=PAYMENT_EVENT,
            name=SETTLED,
            response_time=(time.monotonic() - started) * 1000,
            response_length=0,
            exception=RuntimeError(problem) if problem else None,
            context={},
        )


class Reader(_User):
    weight = KNOBS.reader_weight
    wait_time = between(KNOBS.think_min, KNOBS.think_max)

    @task(3)
    def health(self) -> None:
        self.client.get("/api/health", name="/api/health")

    @task(1)
    def version(self) -> None:
        self.client.get("/api/version", name="/api/version")

    @task(2)
    def packages(self) -> None:
        self.client.get("/api/packages", name="/api/packages")


class Admin(_User):
    weight = KNOBS.admin_weight
    wait_time = between(KNOBS.admin_think_min, KNOBS.admin_think_max)

    def on_start(self) -> None:
        self.auth = {"x-api-key": os.environ.get(ADMIN_KEY_VARIABLE, "")}

    @task(4)
    def read_flags(self) -> None:
        self.client.get("/api/admin/feature-flags", name="/api/admin/feature-flags", headers=self.auth)

    @task(1)
    def adjust_probe_flag(self) -> None:
        body = {"feature": KNOBS.admin_flag, "enabled": True, "percentage": random.randrange(0, 101, 10)}
        self.client.post(
            "/api/admin/feature-flags", json=body, name="/api/admin/feature-flags [set]", headers=self.auth
        )


def configure(knobs: Knobs, *, admin_key: str | None) -> list[type[_User]]:
    """Applies the knobs to the user classes; returns the classes that run (weight > 0; the admin needs a key)."""
    global KNOBS  # noqa: PLW0603 (the classes read the knobs at run time; set once, before Locust starts)
    KNOBS = knobs
    for cls in (Buyer, Reader):
        cls.wait_time = between(knobs.think_min, knobs.think_max)
    Admin.wait_time = between(knobs.admin_think_min, knobs.admin_think_max)
    weights = {Buyer: knobs.buyer_weight, Reader: knobs.reader_weight, Admin: knobs.admin_weight if admin_key else 0}
    for cls, weight in weights.items():
        cls.weight = max(weight, 1)
        cls.abstract = weight == 0
        cls.network_timeout = cls.connection_timeout = knobs.request_timeout
        cls.insecure = not knobs.verify_tls
    return [cls for cls, weight in weights.items() if weight > 0]
