"""python -m app.worker — the recovery worker: periodic sweeps, one active worker across all hosts.

Every worker competes for one leader lease in PostgreSQL (worker_leases); the leader runs every sweep once per
tick, the others wait and take over within about GOLIVE_WORKER_LEASE_TTL_SECONDS of the leader dying.
Settings come from GOLIVE_* environment variables (app/settings.py), as for the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys

import psycopg
from prometheus_client import start_http_server
from psycopg_pool import PoolTimeout

from app import metrics
from app.observability.error_tracking import ErrorTracker
from app.observability.logging_json import configure_logging, register_secret
from app.services import build_services
from app.settings import SettingsError, load_settings
from app.worker.context import SweepContext
from app.worker.lease import Lease
from app.worker.loop import Worker
from app.worker.registry import SWEEPS, RegistryError, resolve

log = logging.getLogger("golive.worker")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_LEADER = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    sweeps = ", ".join(name for name, _ in SWEEPS)
    parser = argparse.ArgumentParser(
        prog="python -m app.worker",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog=f"Sweeps, in pass order: {sweeps}. Exit codes with --once: 0 done, 1 a sweep failed, "
        "2 bad usage or settings, 3 another worker is the leader (nothing done); 1 also when the database "
        "cannot be reached at start-up.",
    )
    parser.add_argument("--once", action="store_true", help="one pass of every sweep as the leader, then exit")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME", help="run only this sweep (repeat)")
    parser.add_argument(
        "--holder", default=f"{socket.gethostname()}:{os.getpid()}", help="this worker's name in the lease"
    )
    parser.add_argument("--metrics-port", type=int, help="serve /metrics (Prometheus) on this port")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    return parser


async def _main(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    for secret in settings.secret_values():
        register_secret(secret)
    sweeps = resolve(SWEEPS, args.sweep)
    services = await build_services(settings)
    lease = Lease(services.pool, holder=args.holder, ttl=settings.worker_lease_ttl_seconds)
    ctx = SweepContext(services, lease, limit=settings.worker_batch_size)
    tracker = ErrorTracker.from_settings(settings)
    worker = Worker(
        ctx,
        sweeps,
        tick=settings.worker_tick_seconds,
        grace=settings.worker_shutdown_grace_seconds,
        report=tracker.capture,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop.set)
    log.info(
        "worker started",
        extra={"holder": args.holder, "sweeps": [s.name for s in sweeps], "once": args.once, "env": settings.env},
    )
    try:
        if not args.once:
            await worker.run_forever()
            return EXIT_OK
        result = await worker.once()
        if result is None:
            print(json.dumps({"leader": False, "detail": "another worker holds the lease; nothing done"}))
            return EXIT_NOT_LEADER
        print(json.dumps({"leader": True, "handled": result.handled, "errors": result.errors}))
        return EXIT_FAILED if result.errors or not result.complete else EXIT_OK
    finally:
        await services.close()
        tracker.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.metrics_port is not None:
        if not 0 < args.metrics_port < 65536:
            print("--metrics-port: must be 1-65535", file=sys.stderr)
            return EXIT_USAGE
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics.registry())
    try:
        return asyncio.run(_main(args))
    except (SettingsError, RegistryError) as exc:
        print(f"python -m app.worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PoolTimeout, psycopg.OperationalError) as exc:
        print(f"python -m app.worker: cannot reach the database ({type(exc).__name__})", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
