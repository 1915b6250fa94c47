"""HTTP benchmark of the payments service: throughput and p50/p99 latency of POST /api/payments and of the
STK callback endpoint, each also as a ratio to a bare FastAPI endpoint returning a constant JSON object,
served by the same ASGI server with the same workers and measured in the same run.

Everything runs on 127.0.0.1 and is started here: an embedded PostgreSQL (a fresh database per server),
the Daraja simulator, and per server the service (W workers, rate limiter off, warnings-only logs) and the
bare app. wrk drives each endpoint over C keep-alive connections (closed loop) for a warm-up, then for
the measured duration. A run is valid only if every answer was 2xx with no socket error and the database
confirms the work (every payment submitted, every callback applied); otherwise it exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType

from bench import report, seed
from bench.report import BARE, CALLBACKS, PAYMENTS, TARGETS, Measurement
from bench.stack import (
    BARE_TARGET,
    SERVERS,
    SERVICE_TARGET,
    Stack,
    StackError,
    clean_environ,
    credentials_env,
    free_port,
    server_command,
    service_env,
    simulator_command,
)
from bench.wrk import INSTALL_HINT, WrkError, WrkResult, run_wrk, wrk_path

EPILOG = """
figures (per server and endpoint):
  req/s      completed requests per second over the measured duration (after the warm-up)
  p50, p99   latency percentiles in ms as wrk saw them (closed loop: at C connections these are
             latencies at saturation, roughly C / throughput on average)
  non-2xx    answers that were not 2xx; with socket errors and timeouts (> 5 s) they must be 0
  rps/bare   the endpoint's throughput divided by the bare endpoint's, same server and run
  p99/bare   the endpoint's p99 divided by the bare endpoint's
  target     payments >= 400 req/s with p99 <= 100 ms; callbacks >= 800 req/s with p99 <= 50 ms

payments use unique Idempotency-Keys and phone numbers ending in 90 (the simulator then sends no
callback, so no callback load mixes in). Callbacks are Daraja success callbacks for payments written
straight into the database in state submitted, enough for each to be sent once; if the service is faster
than expected, wrk cycles and the repeats are stored and recognised as duplicates (counted in the checks).

exit codes: 0 valid run, 1 invalid run (non-2xx, errors, or the database disagrees), 2 wrk missing or
bad usage, 3 with --strict when a target is missed. See bench/README.md.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=_positive, default=10, help="measured seconds per endpoint (default 10)")
    parser.add_argument("--warmup", type=_positive, default=3, help="warm-up seconds before each (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections (default 32)")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (default 1: leaves the CPUs to the service)"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument(
        "--server", choices=[*SERVERS, "both"], default="both", help="ASGI server(s) to measure (default both)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (database, logs) and print its path"
    )
    return parser


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be > 0 and <= 600 seconds")
    return value


class Run:
    """One benchmark run: the shared parts, then each server in turn."""

    def __init__(self, args: argparse.Namespace, stack: Stack):
        self.args = args
        self.stack = stack
        self.workdir = stack.workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.maintenance_url = ""
        self.simulator_url = ""

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start_shared(self) -> None:
        self.log(f"embedded PostgreSQL in {self.workdir / 'pg'}")
        self.maintenance_url = self.stack.start_postgres()
        port = free_port()
        self.simulator_url = f"http://127.0.0.1:{port}"
        self.stack.start(
            "simulator",
            simulator_command(port),
            env={**clean_environ(), **credentials_env()},
            health_url=f"{self.simulator_url}/__sim__/health",
        )
        self.log(f"Daraja simulator on {self.simulator_url}")

    def wrk(self, url: str, script: str, seconds: float, *script_args: str) -> WrkResult:
        return run_wrk(
            url,
            script,
            seconds=seconds,
            connections=self.args.connections,
            threads=self.args.wrk_threads,
            script_args=script_args,
        )

    def warm_then_measure(self, what: str, url: str, script: str, *script_args: str) -> WrkResult:
        self.log(f"  {what}: warm-up {self.args.warmup:g} s, then {self.args.duration:g} s measured")
        warm = self.wrk(url, script, self.args.warmup, *script_args)
        if not warm.valid:
            raise WrkError(f"{what} warm-up: {warm.problem()}")
        return self.wrk(url, script, self.args.duration, *script_args)

    def measure_server(self, server: str) -> dict[str, Measurement]:
        self.log(f"{server}: fresh database, service and bare app with {self.args.workers} workers")
        database_url = self.stack.create_database(self.maintenance_url, f"bench_{server}_{self.run_id}")
        state_dir = self.workdir / f"state-{server}"
        metrics_dir = self.workdir / f"metrics-{server}"
        metrics_dir.mkdir(parents=True)
        service_port, bare_port = free_port(), free_port()
        service_url, bare_url = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{bare_port}"
        secret = secrets.token_urlsafe(32)
        env = service_env(
            state_dir=state_dir,
            database_url=database_url,
            simulator_url=self.simulator_url,
            public_url=service_url,
            callback_secret=secret,
            metrics_dir=metrics_dir,
        )
        workers = self.args.workers
        service = self.stack.start(
            f"service-{server}",
            server_command(server, SERVICE_TARGET, port=service_port, workers=workers),
            env={**clean_environ(), **env},
            health_url=f"{service_url}/api/health",
        )
        bare = self.stack.start(
            f"bare-{server}",
            server_command(server, BARE_TARGET, port=bare_port, workers=workers),
            env=clean_environ(),
            health_url=f"{bare_url}/bare",  # a GET: 405 proves it answers
        )
        try:
            return {
                BARE: Measurement(BARE, self.warm_then_measure("bare", bare_url, "bare.lua")),
                PAYMENTS: self.measure_payments(server, service_url, database_url),
                CALLBACKS: self.measure_callbacks(server, service_url, database_url, secret),
            }
        finally:
            self.stack.stop(bare)
            self.stack.stop(service)

    def measure_payments(self, server: str, url: str, database_url: str) -> Measurement:
        prefix = f"pay-{server}-{self.run_id}"
        self.log(f"  payments: warm-up {self.args.warmup:g} s, then {self.args.duration:g} s measured")
        warm = self.wrk(url, "payments.lua", self.args.warmup, f"{prefix}-w")
        if not warm.valid:
            raise WrkError(f"payments warm-up: {warm.problem()}")
        result = self.wrk(url, "payments.lua", self.args.duration, f"{prefix}-m")
        states = seed.payment_states(database_url, f"{prefix}-m-")
        measurement = Measurement(PAYMENTS, result, checks={"payment_states": states})
        if not result.valid:
            measurement.problems.append(result.problem())
        others = {state: count for state, count in states.items() if state != "submitted"}
        if others:
            measurement.problems.append(f"payments not submitted: {others}")
        if states.get("submitted", 0) < result.requests:
            measurement.problems.append(
                f"{result.requests} answers but {states.get('submitted', 0)} payments submitted (replays?)"
            )
        return measurement

    def measure_callbacks(self, server: str, url: str, database_url: str, secret: str) -> Measurement:
        tag = server[:2]
        warm_file = self.workdir / f"callbacks-{server}-warm.tsv"
        seed.write_callback_file(warm_file, seed.seed_submitted(database_url, f"{tag}w", 2000), url, secret)
        threads = str(max(1, min(self.args.wrk_threads, self.args.connections)))
        self.log(f"  callbacks: warm-up {self.args.warmup:g} s on 2000 payments")
        warm = self.wrk(url, "callbacks.lua", self.args.warmup, str(warm_file), threads)
        if not warm.valid:
            raise WrkError(f"callbacks warm-up: {warm.problem()}")
        # Enough payments for each measured callback to be a first one, judging by the warm-up's pace.
        count = math.ceil(warm.rps * self.args.duration * 1.5) + 1000
        measure_file = self.workdir / f"callbacks-{server}-measure.tsv"
        seed.write_callback_file(measure_file, seed.seed_submitted(database_url, f"{tag}m", count), url, secret)
        seed.callback_statuses(database_url, 0)  # let the warm-up's callbacks finish applying
        after_id = seed.last_callback_id(database_url)
        self.log(f"  callbacks: {self.args.duration:g} s measured on {count} payments in state submitted")
        result = self.wrk(url, "callbacks.lua", self.args.duration, str(measure_file), threads)
        statuses, settle_seconds = seed.callback_statuses(database_url, after_id)
        measurement = Measurement(
            CALLBACKS,
            result,
            checks={
                "payments_seeded": count,
                "callback_statuses": statuses,
                "seconds_to_apply_after_load": settle_seconds,
            },
        )
        if not result.valid:
            measurement.problems.append(result.problem())
        unexpected = {status: n for status, n in statuses.items() if status not in ("applied", "duplicate")}
        if unexpected:
            measurement.problems.append(f"callbacks not applied: {unexpected}")
        if sum(statuses.values()) < result.requests:
            measurement.problems.append(f"{result.requests} answers but {sum(statuses.values())} callbacks stored")
        return measurement


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.connections < 1 or args.workers < 1 or args.wrk_threads < 1:
        parser.error("--connections, --workers and --wrk-threads must be >= 1")
    if wrk_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    servers = list(SERVERS) if args.server == "both" else [args.server]
    info = report.machine()
    if "granian" in servers and info["granian"] == "not installed":
        print("granian is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    # SIGTERM ends the run like Ctrl-C: the finally below stops everything.
    signal.signal(signal.SIGTERM, _interrupt)
    print(report.describe_machine(info))
    print(
        f"settings: {args.workers} workers, wrk {args.connections} connections / {args.wrk_threads} threads, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s per endpoint, servers: {', '.join(servers)}",
        flush=True,
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="golive-bench-"))
    stack = Stack(workdir)
    results: dict[str, dict[str, Measurement]] = {}
    try:
        run = Run(args, stack)
        run.start_shared()
        for server in servers:
            results[server] = run.measure_server(server)
            print("\n" + report.table(server, results[server]) + "\n", flush=True)
    except (StackError, WrkError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        stack.close()
        if args.keep:
            print(f"kept {workdir}")
        else:
            _remove(workdir)
    return _summarise(args, info, results, time.monotonic() - started)


def _summarise(
    args: argparse.Namespace, info: dict[str, object], results: dict[str, dict[str, Measurement]], seconds: float
) -> int:
    print(report.describe_machine(info))
    for server, measurements in results.items():
        print("\n" + report.table(server, measurements))
    decision = report.decide_server(results)
    print("\n" + decision)
    valid = all(m.valid for measurements in results.values() for m in measurements.values())
    met = all(
        TARGETS[endpoint].met(m.result)
        for measurements in results.values()
        for endpoint, m in measurements.items()
        if endpoint in TARGETS
    )
    print(f"\nrun {'valid' if valid else 'INVALID'}; targets {'all met' if met else 'NOT all met'}; {seconds:.0f} s")
    if args.json:
        document = {
            "machine": info,
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "connections": args.connections,
                "wrk_threads": args.wrk_threads,
                "workers": args.workers,
            },
            "results": {
                server: {
                    endpoint: m.to_json(measurements[BARE].result if BARE in measurements else None)
                    for endpoint, m in measurements.items()
                }
                for server, measurements in results.items()
            },
            "decision": decision,
            "valid": valid,
            "targets_met": met,
            "seconds": round(seconds, 1),
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"figures written to {args.json}")
    if not valid:
        return 1
    return 3 if args.strict and not met else 0


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
