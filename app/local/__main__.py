"""python -m app.local — the service on this machine with nothing but Python: an embedded PostgreSQL,
the Daraja simulator on 127.0.0.1:8100, the service on 127.0.0.1:8000 and the recovery worker, until Ctrl-C.

State (database, generated throwaway secrets, the admin key) lives under ./state (git ignores it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from app.admin.keys import create_key
from app.db import migrator
from app.local import embedded_postgres
from app.settings import load_settings

EXAMPLE = """
Buy a package with a simulator phone number (ending 00 = success; see simulators/daraja/README.md):
  curl -s -X POST {url}/api/payments -H 'Content-Type: application/json' \\
       -H "Idempotency-Key: $(date +%s%N)" \\
       -d '{{"phone": "0708374100", "package_id": "usdt-10",
            "wallet_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}}'
  curl -s {url}/api/payments/<id>          # state goes submitted -> paid within a second
Admin key (x-api-key) for /api/admin/...: {key_file}
"""


def _wait_for(url: str, what: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}; see its output above")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer on {url} within {seconds:.0f} s")


async def _admin_key(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("DELETE FROM api_keys WHERE name = 'local'")
        return await create_key(conn, "local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="service port (default 8000)")
    parser.add_argument("--simulator-port", type=int, default=8100, help="Daraja simulator port (default 8100)")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    parser.add_argument("--callback-delay", type=float, default=0.5, help="simulated payer's delay (s)")
    args = parser.parse_args(argv)

    state = Path(os.environ.get("GOLIVE_STATE_DIR", "state")).resolve()
    print(f"embedded PostgreSQL in {state / 'pg'} ...", flush=True)
    db_url = embedded_postgres.start(state / "pg")
    result = migrator.migrate(db_url)
    print(f"schema {result.before or 'base'} -> {result.after} (verified)", flush=True)
    service_url = f"http://127.0.0.1:{args.port}"
    simulator_url = f"http://127.0.0.1:{args.simulator_port}"
    settings = load_settings(env="local", state_dir=state)
    key_file = state / "admin-api-key"
    key_file.touch(mode=0o600)
    key_file.write_text(asyncio.run(_admin_key(db_url)) + "\n")

    metrics_dir = state / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    env = {
        **os.environ,
        "GOLIVE_ENV": "local",
        "GOLIVE_STATE_DIR": str(state),
        "GOLIVE_DATABASE_URL": db_url,
        "GOLIVE_DARAJA_BASE_URL": simulator_url,
        "GOLIVE_PUBLIC_BASE_URL": service_url,
        "GOLIVE_DARAJA_CONSUMER_KEY": settings.daraja_consumer_key.get_secret_value(),  # type: ignore[union-attr]
        "GOLIVE_DARAJA_CONSUMER_SECRET": settings.daraja_consumer_secret.get_secret_value(),  # type: ignore[union-attr]
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    python = sys.executable
    simulator = subprocess.Popen(
        [
            python,
            "-m",
            "simulators.daraja",
            "--port",
            str(args.simulator_port),
            "--callback-delay",
            str(args.callback_delay),
        ],
        env=env,
    )
    service = subprocess.Popen(
        [
            python,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            # app.http.client_ip decides whose X-Forwarded-For to believe; uvicorn must not rewrite it first.
            "--no-proxy-headers",
        ],
        env=env,
    )
    # The recovery worker (STK queries for lost callbacks, stuck-payment census); its metrics join the service's.
    worker = subprocess.Popen([python, "-m", "app.worker", "--holder", "local"], env=env)
    try:
        _wait_for(f"{simulator_url}/__sim__/health", "the Daraja simulator", simulator)
        _wait_for(f"{service_url}/api/health", "the service", service)
        print(f"\nservice   {service_url}  (docs {service_url}/docs, metrics {service_url}/metrics)")
        print(f"simulator {simulator_url}  (control API {simulator_url}/__sim__/config)")
        print(EXAMPLE.format(url=service_url, key_file=key_file))
        print("Ctrl-C stops everything.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        # Ctrl-C stops everything even when started from a shell's background job, which starts it ignoring SIGINT.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        while service.poll() is None and simulator.poll() is None and worker.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (worker, service, simulator):
            if process.poll() is None:
                process.terminate()
        for process in (worker, service, simulator):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        embedded_postgres.stop(state / "pg")
        print("stopped.")


if __name__ == "__main__":
    sys.exit(main())
