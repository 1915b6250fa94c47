"""Sustained requests/s and p95/p99 at the SLO on the local environment: Locust load steps of increasing
users (the scenarios of loadtests/, short think times) until a step misses the environment's SLO
(loadtests/slo/local.yml); prints every step and the highest one that passed.

    .venv/bin/python -m bench.loadtest                   # a throwaway local environment on free ports:
                                                         # released from the working tree, brought down after
    .venv/bin/python -m bench.loadtest --env local       # the running local environment (fab release --env local)

Options: --steps 10,20,40,80 (users), --duration 20 (seconds per step), --workers 0 (Locust workers),
--think 0.1,0.5 (seconds between a user's tasks). Reports of each step: state/loadtests/<env>/<timestamp>/.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import yaml

from foundation.environment import ENVIRONMENTS_DIR, Environment, load_environment
from foundation.reporter import Reporter
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from loadtests.runner import LoadResult, LoadTestError, free_port
from release import local_env
from release.gates import loadtest as loadtest_gate


@contextmanager
def throwaway_environment() -> Iterator[Path]:
    """A copy of local.yml on free ports under /tmp, released from the working tree; down and removed after."""
    base = Path(tempfile.mkdtemp(prefix="gl-bench-", dir="/tmp"))
    raw = yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text())
    web1, web2, simulator = free_port(), free_port(), free_port()
    raw.update(
        name="benchlocal",
        root=str(base / "env"),
        instances=[{"name": "web1", "port": web1}, {"name": "web2", "port": web2}],
        entry_url=f"http://127.0.0.1:{web1}",
        simulator_port=simulator,
    )
    env_file = base / "benchlocal.yml"
    env_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    # The tooling's admin key is kept per environment name; this environment's database is new every time.
    stale_key = StateLayout.default().admin_key("benchlocal")
    stale_key.unlink(missing_ok=True)
    try:
        print(f"releasing the working tree onto a throwaway local environment ({raw['entry_url']}) ...", flush=True)
        fab = [sys.executable, "-m", "fabric", "release", "--env", str(env_file)]
        done = subprocess.run(fab, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"fab release exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        yield env_file
    finally:
        local_env.down(load_environment(str(env_file)), progress=lambda line: None)
        shutil.rmtree(base, ignore_errors=True)
        stale_key.unlink(missing_ok=True)


def step(env: Environment, state: StateLayout, users: int, args: argparse.Namespace, admin: str) -> LoadResult:
    spec = loadtest_gate.spec_for(
        env, users=users, duration=args.duration, spawn_rate=users, workers=args.workers, slo_file=args.slo
    )
    low, high = args.think.split(",")
    knobs = {**spec.knobs, "GOLIVE_LOADTEST_THINK_MIN": low, "GOLIVE_LOADTEST_THINK_MAX": high}
    spec = dataclasses.replace(spec, knobs=knobs, admin_key=admin)
    return loadtest_gate.run(spec, state, Reporter())


def measure(env: Environment, args: argparse.Namespace) -> None:
    state = StateLayout.default()
    loadtest_gate.ensure_running(env)
    admin = loadtest_gate.resolve_admin_key(env, state)
    rows: list[tuple[int, LoadResult]] = []
    for users in (int(n) for n in args.steps.split(",")):
        result = step(env, state, users, args, admin)
        rows.append((users, result))
        if not result.passed:
            break
    print(f"\n# bench.loadtest: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores")
    print(
        f"# {env.name} at {env.entry_url}; {args.duration:g} s per step, think {args.think} s, workers {args.workers}"
    )
    limits = rows[0][1].verdict["thresholds"]
    print(
        f"# SLO: p95 <= {limits['p95_ms']:g} ms, p99 <= {limits['p99_ms']:g} ms, "
        f"failures <= {limits['max_failure_ratio']:.0%}"
    )
    print("\n| users | req/s | p50 ms | p95 ms | p99 ms | failures | payments (as expected) | SLO |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for users, result in rows:
        f = result.figures
        print(
            f"| {users} | {f['rps']:.1f} | {f['p50_ms']:g} | {f['p95_ms']:g} | {f['p99_ms']:g} | "
            f"{f['failure_ratio']:.2%} | {f['payments']} ({f['paid']}) | {'PASS' if result.passed else 'FAIL'} |"
        )
    passing = [(users, result) for users, result in rows if result.passed]
    if passing:
        users, best = max(passing, key=lambda row: row[1].figures["rps"])
        f = best.figures
        print(f"\nsustained at the SLO: {f['rps']:.1f} req/s with {users} users", end="")
        print(f" (p95 {f['p95_ms']:g} ms, p99 {f['p99_ms']:g} ms)")
    else:
        print("\nno step met the SLO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="an environment name or file (default: a throwaway local environment)")
    parser.add_argument("--steps", default="10,20,40,80", help="users per step, comma-separated")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per step")
    parser.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: one process)")
    parser.add_argument("--slo", help="thresholds file (default: the environment's; throwaway: slo/local.yml)")
    parser.add_argument("--think", default="0.1,0.5", help="think time between a user's tasks: min,max seconds")
    args = parser.parse_args()
    try:
        if args.env:
            measure(load_environment(args.env), args)
        else:
            args.slo = args.slo or str(REPO_ROOT / "loadtests" / "slo" / "local.yml")
            with throwaway_environment() as env_file:
                measure(load_environment(str(env_file)), args)
    except LoadTestError as exc:
        sys.exit(f"bench.loadtest: {exc}")


if __name__ == "__main__":
    main()
