"""The payments service under test: the real app on a real port, against the real database and simulator."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.admin.keys import create_key
from app.main import create_app
from app.settings import Settings, load_settings
from tests.support.processes import ThreadServer, free_port
from tests.support.simulator import CONSUMER_KEY, CONSUMER_SECRET

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TERMINAL = {"paid", "failed", "unknown"}


def service_settings(db_url: str, daraja_url: str, state_dir: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "state_dir": state_dir,
        "database_url": db_url,
        "daraja_base_url": daraja_url,
        "public_base_url": f"http://127.0.0.1:{port}",
        "daraja_consumer_key": CONSUMER_KEY,
        "daraja_consumer_secret": CONSUMER_SECRET,
        "rate_limit_per_minute": 1_000_000,
        "rate_limit_burst": 1_000_000,
        "callback_refused_per_minute": 1_000_000,
        "callback_refused_burst": 1_000_000,
        "feature_flag_cache_seconds": 0,
        "daraja_timeout_seconds": 3,
        "db_pool_min": 1,
        "db_pool_max": 5,
    }
    values.update(overrides)
    return load_settings(**values)


class RunningService:
    def __init__(self, settings: Settings, port: int):
        self.settings = settings
        self.server = ThreadServer(create_app(settings), port).start()
        self.url = self.server.url
        self.http = httpx.Client(base_url=self.url, timeout=15)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()

    # -- the calls most tests make --------------------------------------------------------------
    def pay(
        self, phone: str, *, package_id: str = "usdt-10", wallet: str = WALLET, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        body = {"phone": phone, "package_id": package_id, "wallet_address": wallet, **extra}
        return self.http.post("/api/payments", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def payment(self, payment_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/payments/{payment_id}")
        response.raise_for_status()
        return response.json()

    def wait_for_state(self, payment_id: str, states: set[str] = TERMINAL, seconds: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            payment = self.payment(payment_id)
            if payment["state"] in states or time.monotonic() > deadline:
                return payment
            time.sleep(0.03)


def start_service(db_url: str, daraja_url: str, state_dir: Path, **overrides: Any) -> RunningService:
    port = free_port()
    return RunningService(service_settings(db_url, daraja_url, state_dir, port, **overrides), port)


def new_admin_key(db_url: str) -> str:
    async def create() -> str:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await create_key(conn, f"test-{uuid.uuid4().hex[:8]}")

    return asyncio.run(create())


_counter = iter(range(10**6))


def phone(ending: str = "00") -> str:
    """A fresh simulator number (07… form) whose last two digits choose the outcome (daraja.md)."""
    return f"07{next(_counter) % 10**6:06d}{ending}"


def msisdn(local: str) -> str:
    return "254" + local[1:]
