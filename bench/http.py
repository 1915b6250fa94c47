"""HTTP benchmark of the payments service: throughput and p50/p99 latency of POST /api/payments and of the
STK callback endpoint, each also as a ratio to a bare FastAPI endpoint returning a constant JSON object,
served by the same ASGI server with the same workers and measured in the same run.

Everything runs on 127.0.0.1 and is started here: an embedded PostgreSQL (a fresh database per server and
round), the Daraja simulator, and per server the service (W workers, rate limiter off, warnings-only logs)
and the bare app. wrk drives each endpoint over C keep-alive connections, first as fast as answers come
(closed loop: the throughput), then the two service endpoints paced at their target rates (the latency
at that load), each after a warm-up. A run is valid only if every answer was 2xx with no socket error and
the database confirms the work (every payment submitted, every callback applied); otherwise it exits 1.
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench import report, seed
from bench.cpu import CpuMeter, CpuUsage
from bench.profile import PYSPY_HINT, Profiler, py_spy_path
from bench.report import (
    BARE,
    CALLBACKS,
    CALLBACKS_AT_RATE,
    ENDPOINTS,
    PAYMENTS,
    PAYMENTS_AT_RATE,
    TARGETS,
    Measurement,
)
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
from bench.wrk import INSTALL_HINT, WrkError, WrkResult, corrected_pace, pace_for, run_wrk, wrk_path

EPILOG = """
figures (per server and endpoint):
  req/s      completed requests per second over the measured duration (after the warm-up)
  p50, p99   latency percentiles in ms as wrk saw them. As fast as answers come, C connections keep
             C requests in flight, so the mean latency is C / throughput (Little's law) and p99 a
             multiple of it; paced at the target rate, they are the latencies at that load
  non-2xx    answers that were not 2xx; with socket errors and timeouts (> 5 s) they must be 0
  rps/bare   the endpoint's throughput divided by the bare endpoint's, same server and round
  p99/bare   the endpoint's p99 divided by the bare endpoint's
  target     payments >= 400 req/s with p99 <= 100 ms; callbacks >= 800 req/s with p99 <= 50 ms;
             judged both as fast as answers come (throughput and p99 of that run) and paced at the
             target rate (p99 while sustaining at least 95% of it)
  CPU ms     CPU time per request of the server (all its workers), PostgreSQL, the simulator and wrk;
  foreign    the share of the machine other processes used meanwhile: above 5% the figures understate

payments use unique Idempotency-Keys and phone numbers ending in 90 (the simulator then sends no
callback, so no callback load mixes in). Callbacks are Daraja success callbacks for payments written
straight into the database in state submitted, enough for each to be the first for its payment; if the
service is faster than expected, wrk cycles and the repeats are stored and recognised as duplicates
(counted in the JSON checks).

exit codes: 0 valid run, 1 invalid run (non-2xx, errors, or the database disagrees), 2 wrk or py-spy
missing or bad usage, 3 with --strict when a target is missed, 130 interrupted. See bench/README.md.
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
    parser.add_argument(
        "--service-target",
        default=SERVICE_TARGET,
        metavar="MODULE:FACTORY",
        help=f"the service's app factory (default {SERVICE_TARGET}); another one measures a change side by side",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, alternating their order; the summary takes per endpoint "
        "the round least disturbed by other processes (the median of equally quiet ones). Default 1; "
        "use 3 or more on a machine others also use",
    )
    parser.add_argument(
        "--no-target-rate",
        dest="at_target_rate",
        action="store_false",
        help="skip the second measurement of each service endpoint, paced at its target rate",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="attach py-spy to the service's workers during each measured service phase, write the stacks "
        "to DIR and print the top functions (py-spy costs a little throughput)",
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


@dataclass(frozen=True)
class Service:
    """The service under measurement in one round: its server process, address, database and secret."""

    pid: int
    url: str
    database_url: str
    callback_secret: str


@dataclass(frozen=True)
class Phase:
    endpoint: str
    script: str
    rate: float | None = None  # None: as fast as answers come (closed loop)

    @property
    def label(self) -> str:
        return self.endpoint if self.rate is None else ENDPOINTS[self.endpoint]


class Run:
    """One benchmark run: the shared parts, then each server in turn."""

    def __init__(self, args: argparse.Namespace, stack: Stack):
        self.args = args
        self.stack = stack
        self.workdir = stack.workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.maintenance_url = ""
        self.simulator_url = ""
        self.shared_parts: dict[str, int] = {}
        self.current = ""  # server and round being measured, for file names

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start_shared(self) -> None:
        self.log(f"embedded PostgreSQL in {self.workdir / 'pg'}")
        self.maintenance_url = self.stack.start_postgres()
        port = free_port()
        self.simulator_url = f"http://127.0.0.1:{port}"
        simulator = self.stack.start(
            "simulator",
            simulator_command(port),
            env={**clean_environ(), **credentials_env()},
            health_url=f"{self.simulator_url}/__sim__/health",
        )
        self.log(f"Daraja simulator on {self.simulator_url}")
        self.shared_parts = {"postgres": self.stack.postgres_pid(), "simulator": simulator.pid}

    def wrk(self, url: str, script: str, seconds: float, *script_args: str, pace_ms: float = 0.0) -> WrkResult:
        return run_wrk(
            url,
            script,
            seconds=seconds,
            connections=self.args.connections,
            threads=self.args.wrk_threads,
            script_args=script_args,
            pace_ms=pace_ms,
        )

    def warm_then_measure(
        self, phase: Phase, pid: int, url: str, warm_args: tuple[str, ...], measure_args: tuple[str, ...]
    ) -> tuple[WrkResult, WrkResult, CpuUsage]:
        """The warm-up's result, the measured result and the CPU it took. A paced phase warms up in two
        halves, each correcting the pace by how far the rate it reached fell short of (or overshot) the
        target, and is measured at the corrected pace."""
        connections = self.args.connections
        if phase.rate is None:
            pace, steps = 0.0, [self.args.warmup]
        else:
            pace, steps = pace_for(phase.rate, connections), [self.args.warmup / 2] * 2
        for seconds in steps:
            warm = self.wrk(url, phase.script, seconds, *warm_args, pace_ms=pace)
            if not warm.valid:
                raise WrkError(f"{phase.label} warm-up: {warm.problem()}")
            if phase.rate is not None and warm.rps > 0:
                pace = corrected_pace(pace, phase.rate, warm, connections)
        profiler = None
        if self.args.profile and phase.endpoint != BARE:
            profiler = Profiler(self.args.profile, f"{self.current}-{phase.endpoint}", pid, self.args.duration)
        meter = CpuMeter({"server": pid, **self.shared_parts}).start()
        result = self.wrk(url, phase.script, self.args.duration, *measure_args, pace_ms=pace)
        usage = meter.stop()
        if profiler is not None:
            print(f"  py-spy, {phase.label}:\n{profiler.finish()}", flush=True)
        return warm, result, usage

    def measure_server(self, server: str, round_number: int) -> dict[str, Measurement]:
        self.log(f"{server}: fresh database, service and bare app with {self.args.workers} workers")
        name = f"{server}_{round_number}_{self.run_id}"
        self.current = f"{server}-round{round_number}"
        database_url = self.stack.create_database(self.maintenance_url, f"bench_{name}")
        state_dir = self.workdir / f"state-{name}"
        metrics_dir = self.workdir / f"metrics-{name}"
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
            server_command(server, self.args.service_target, port=service_port, workers=workers),
            env={**clean_environ(), **env},
            health_url=f"{service_url}/api/health",
        )
        bare = self.stack.start(
            f"bare-{server}",
            server_command(server, BARE_TARGET, port=bare_port, workers=workers),
            env=clean_environ(),
            health_url=f"{bare_url}/bare",  # a GET: 405 proves it answers
        )
        measured: dict[str, Measurement] = {}
        tag = f"{server[:2]}{round_number}"  # letters and digits: it goes into receipt numbers
        target = Service(service.pid, service_url, database_url, secret)
        try:
            measured[BARE] = self.measure_bare(bare.pid, bare_url)
            for phase in self.phases():
                if phase.endpoint in (PAYMENTS, PAYMENTS_AT_RATE):
                    measured[phase.endpoint] = self.measure_payments(phase, f"{tag}-{self.run_id}", target)
                else:
                    measured[phase.endpoint] = self.measure_callbacks(phase, tag, target)
        finally:
            self.stack.stop(bare)
            self.stack.stop(service)
        for endpoint in (PAYMENTS, CALLBACKS):  # the paced ones are not comparable with a saturated bare
            measured[endpoint].bare = measured[BARE].result
        return measured

    def phases(self) -> list[Phase]:
        phases = [Phase(PAYMENTS, "payments.lua"), Phase(CALLBACKS, "callbacks.lua")]
        if self.args.at_target_rate:
            phases += [
                Phase(PAYMENTS_AT_RATE, "payments.lua", TARGETS[PAYMENTS].min_rps),
                Phase(CALLBACKS_AT_RATE, "callbacks.lua", TARGETS[CALLBACKS].min_rps),
            ]
        return phases

    def announce(self, phase: Phase, detail: str = "") -> None:
        pace = f" at about {phase.rate:g} req/s" if phase.rate else " as fast as answers come"
        self.log(
            f"  {phase.label}: warm-up {self.args.warmup:g} s, then {self.args.duration:g} s measured{pace}{detail}"
        )

    def measure_bare(self, pid: int, url: str) -> Measurement:
        phase = Phase(BARE, "bare.lua")
        self.announce(phase)
        _warm, result, cpu = self.warm_then_measure(phase, pid, url, (), ())
        measurement = Measurement(BARE, result, cpu=cpu)
        if not result.valid:
            measurement.problems.append(result.problem())
        return measurement

    def measure_payments(self, phase: Phase, tag: str, service: Service) -> Measurement:
        prefix = f"pay-{tag}-{'r' if phase.rate else 's'}"
        self.announce(phase)
        _warm, result, cpu = self.warm_then_measure(phase, service.pid, service.url, (f"{prefix}-w",), (f"{prefix}-m",))
        states = seed.payment_states(service.database_url, f"{prefix}-m-")
        measurement = Measurement(phase.endpoint, result, cpu=cpu, checks={"payment_states": states})
        if not result.valid:
            measurement.problems.append(result.problem())
        others = {state: count for state, count in states.items() if state != "submitted"}
        if others:
            measurement.problems.append(
                f"payments not submitted: {others} (unknown: the STK push's answer was lost; "
                "--keep keeps the service log that says why)"
            )
        if states.get("submitted", 0) < result.requests:
            measurement.problems.append(
                f"{result.requests} answers but {states.get('submitted', 0)} payments submitted (replays?)"
            )
        return measurement

    def measure_callbacks(self, phase: Phase, tag: str, service: Service) -> Measurement:
        """Warm-up on its own payments (cycling through them is fine there), then enough fresh payments
        for each measured callback to be the first for its payment: sized by the target rate, or by the
        warm-up's pace when running as fast as answers come (a second warm-up, uncounted, gives it)."""
        tag += "r" if phase.rate else "s"
        threads = str(max(1, min(self.args.wrk_threads, self.args.connections)))
        expected = phase.rate or self.callback_rate_guess(phase, tag, service)
        warm_count = math.ceil(expected * self.args.warmup * 1.2) + 500
        warm_file = self.callback_file(service, f"{tag}w", warm_count)
        count = math.ceil(expected * self.args.duration * 1.5) + 1000
        measure_file = self.callback_file(service, f"{tag}m", count)
        seed.callback_statuses(service.database_url)  # earlier callbacks applied: a clean start
        self.announce(phase, f" on {count} payments in state submitted")
        _warm, result, cpu = self.warm_then_measure(
            phase, service.pid, service.url, (str(warm_file), threads), (str(measure_file), threads)
        )
        statuses, settle_seconds = seed.callback_statuses(service.database_url, f"{tag}m")
        measurement = Measurement(
            phase.endpoint,
            result,
            cpu=cpu,
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

    def callback_rate_guess(self, phase: Phase, tag: str, service: Service) -> float:
        """The callback rate as fast as answers come, from a short run on its own payments."""
        probe = self.callback_file(service, f"{tag}p", 2000)
        threads = str(max(1, min(self.args.wrk_threads, self.args.connections)))
        result = self.wrk(service.url, phase.script, min(self.args.warmup, 2.0), str(probe), threads)
        if not result.valid:
            raise WrkError(f"{phase.label} probe: {result.problem()}")
        return result.rps

    def callback_file(self, service: Service, label: str, count: int) -> Path:
        path = self.workdir / f"callbacks-{label}.tsv"
        seeded = seed.seed_submitted(service.database_url, label, count)
        return seed.write_callback_file(path, seeded, service.url, service.callback_secret)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if min(args.connections, args.workers, args.wrk_threads, args.rounds) < 1:
        parser.error("--connections, --workers, --wrk-threads and --rounds must be >= 1")
    if wrk_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if args.profile and py_spy_path() is None:
        print(PYSPY_HINT, file=sys.stderr)
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
        f"{args.warmup:g} s warm-up + {args.duration:g} s per endpoint, servers: {', '.join(servers)}, "
        f"{args.rounds} round(s)",
        flush=True,
    )
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="golive-bench-"))
    stack = Stack(workdir)
    results: dict[str, list[dict[str, Measurement]]] = {server: [] for server in servers}
    try:
        run = Run(args, stack)
        run.start_shared()
        for round_number in range(1, args.rounds + 1):
            # Alternate the order, so that neither server always runs first (or next to a noisy moment).
            for server in servers if round_number % 2 else servers[::-1]:
                measured = run.measure_server(server, round_number)
                results[server].append(measured)
                title = f"{server}, round {round_number} of {args.rounds}"
                print("\n" + report.table(title, measured), flush=True)
                print(report.cpu_table(measured) + "\n", flush=True)
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
    args: argparse.Namespace,
    info: dict[str, object],
    results: dict[str, list[dict[str, Measurement]]],
    seconds: float,
) -> int:
    summary = {server: report.representative(rounds) for server, rounds in results.items()}
    print("\n" + "=" * 30 + " summary " + "=" * 30)
    print(report.describe_machine(info))
    for server, measurements in summary.items():
        title = server if args.rounds == 1 else f"{server}, least disturbed of {args.rounds} rounds"
        print("\n" + report.table(title, measurements))
        print(report.cpu_table(measurements))
    decision = report.decide_server(summary)
    print("\n" + decision)
    valid = all(m.valid for rounds in results.values() for measured in rounds for m in measured.values())
    met = all(
        TARGETS[endpoint].met(m.result)
        for measurements in summary.values()
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
                "rounds": args.rounds,
                "service_target": args.service_target,
            },
            "summary": {
                server: {endpoint: m.to_json() for endpoint, m in measurements.items()}
                for server, measurements in summary.items()
            },
            "rounds": {
                server: [{endpoint: m.to_json() for endpoint, m in measured.items()} for measured in rounds]
                for server, rounds in results.items()
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
