"""The recovery worker for tests: its sweeps run in-process against the real database and simulator (each test
under its own lease role, so tests never contend for one lease), or `python -m app.worker` as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from app.services import build_services
from app.settings import Settings
from app.worker.context import SweepContext
from app.worker.lease import Lease
from app.worker.registry import resolve
from foundation.repository import REPO_ROOT
from tests.support.processes import free_port
from tests.support.service import service_settings
from tests.support.simulator import CONSUMER_KEY, CONSUMER_SECRET

T = TypeVar("T")


def worker_settings(db_url: str, daraja_url: str, state_dir: Path, **overrides: Any) -> Settings:
    return service_settings(db_url, daraja_url, state_dir, free_port(), **overrides)


async def with_leader(settings: Settings, action: Callable[[SweepContext], Awaitable[T]]) -> T:
    """Runs `action` with a context whose lease (a role of its own) this process holds."""
    services = await build_services(settings)
    try:
        lease = Lease(services.pool, holder="test", ttl=30, role=f"test-{uuid.uuid4().hex[:8]}")
        assert await lease.acquire()
        return await action(SweepContext(services, lease, limit=settings.worker_batch_size))
    finally:
        await services.close()


def run_sweep(settings: Settings, name: str) -> int:
    """One run of the registered sweep `name`, as the leader."""
    (sweep,) = resolve(only=[name])
    return asyncio.run(with_leader(settings, lambda ctx: sweep.run(ctx.for_sweep(name))))


def worker_env(db_url: str, daraja_url: str, state_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_")}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "GOLIVE_ENV": "test",
            "GOLIVE_STATE_DIR": str(state_dir),
            "GOLIVE_DATABASE_URL": db_url,
            "GOLIVE_DARAJA_BASE_URL": daraja_url,
            "GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY,
            "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET,
            "GOLIVE_DB_POOL_MIN": "1",
            "GOLIVE_DB_POOL_MAX": "3",
        }
    )
    env.update({f"GOLIVE_{key.upper()}": value for key, value in settings.items()})
    return env


def start_worker(env: dict[str, str], *args: str, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "app.worker", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop_worker(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode
