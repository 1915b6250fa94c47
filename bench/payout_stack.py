"""Everything a payout run needs on 127.0.0.1, each part a real process stopped by its PID: an embedded
PostgreSQL, the Daraja simulator, the chain simulator, the service (uvicorn, 2 workers) and recovery
workers (`python -m app.worker`, one leader among them). Used by bench/payouts.py and the chaos test."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.stack import (
    Stack,
    clean_environ,
    credentials_env,
    free_port,
    server_command,
    service_env,
    simulator_command,
)

# A throwaway treasury key (never a real one): the chain simulator funds it, the service signs with it.
TREASURY_KEY = "0x" + "5c" * 32
CALLBACK_SECRET = "payout-run-callback-secret-0123456789abcdef"


@dataclass
class PayoutStack:
    workdir: Path
    callback_delay: float = 0.2
    block_time: float = 0
    settings: dict[str, str] = field(default_factory=dict)  # GOLIVE_* for the service and the workers
    stack: Stack = field(init=False)
    database_url: str = field(init=False, default="")
    service_url: str = field(init=False, default="")
    simulator_url: str = field(init=False, default="")
    chain_url: str = field(init=False, default="")
    workers: dict[str, tuple[subprocess.Popen, int]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.stack = Stack(self.workdir)

    def start(self) -> PayoutStack:
        maintenance = self.stack.start_postgres()
        self.database_url = self.stack.create_database(maintenance, "payouts")
        sim_port, chain_port, service_port = free_port(), free_port(), free_port()
        self.simulator_url = f"http://127.0.0.1:{sim_port}"
        self.chain_url = f"http://127.0.0.1:{chain_port}"
        self.service_url = f"http://127.0.0.1:{service_port}"
        base = clean_environ()
        self.stack.start(
            "daraja",
            simulator_command(sim_port, self.callback_delay),
            env={**base, **credentials_env()},
            health_url=f"{self.simulator_url}/__sim__/health",
        )
        chain = [sys.executable, "-m", "simulators.chain", "--port", str(chain_port)]
        if self.block_time:
            chain += ["--block-time", str(self.block_time)]
        self.stack.start(
            "chain",
            chain,
            env={**base, "GOLIVE_TREASURY_PRIVATE_KEY": TREASURY_KEY},
            health_url=f"{self.chain_url}/__chain__/health",
        )
        (self.workdir / "metrics").mkdir(exist_ok=True)
        self.stack.start(
            "service",
            server_command("uvicorn", "app.main:create_app", port=service_port, workers=2),
            env={**base, **self.env(self.workdir / "metrics")},
            health_url=f"{self.service_url}/api/health",
        )
        return self

    def env(self, metrics_dir: Path) -> dict[str, str]:
        return {
            **service_env(
                state_dir=self.workdir / "state",
                database_url=self.database_url,
                simulator_url=self.simulator_url,
                public_url=self.service_url,
                callback_secret=CALLBACK_SECRET,
                metrics_dir=metrics_dir,
            ),
            "GOLIVE_CHAIN_RPC_URL": self.chain_url,
            "GOLIVE_TREASURY_PRIVATE_KEY": TREASURY_KEY,
            **self.settings,
        }

    # -- workers --------------------------------------------------------------------------------------
    def start_worker(self, name: str) -> subprocess.Popen:
        port = free_port()
        metrics = self.workdir / f"metrics-{name}"
        metrics.mkdir(exist_ok=True)
        for stale in metrics.glob("*.db"):
            stale.unlink()
        process = self.stack.start(
            name,
            [sys.executable, "-m", "app.worker", "--metrics-port", str(port), "--holder", name],
            env={**clean_environ(), **self.env(metrics)},
            health_url=f"http://127.0.0.1:{port}/metrics",
        )
        self.workers[name] = (process, port)
        return process

    def kill_worker(self, name: str) -> None:
        """SIGKILL: no goodbye, its lease simply stops being renewed."""
        process, _ = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.stack._processes.pop(process.pid, None)

    def leader(self) -> str | None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT holder FROM worker_leases WHERE expires_at > now() LIMIT 1").fetchone()
        return row[0] if row else None

    # -- the simulators -------------------------------------------------------------------------------
    def chain_control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = httpx.post(f"{self.chain_url}/__chain__/{path}", json=body or {}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def close(self) -> None:
        self.stack.close()


def wait_for(check, what: str, seconds: float, interval: float = 0.5) -> float:
    """Waits until check() is true; the seconds it took. Raises TimeoutError naming `what`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"{what}: not within {seconds:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started
