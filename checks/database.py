"""The database: the service's connection string names the database this environment uses and it
answers; the schema is at the code's head and every revision's verify step passes (`python -m app.db
verify`); queries are fast enough."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from checks.context import Context
from checks.model import CheckError, Result, Status, failed, passed
from checks.registry import check


def _where(url: str) -> tuple[str, str, str]:
    params = conninfo_to_dict(url)
    return (str(params.get("host") or "localhost"), str(params.get("port") or "5432"), str(params.get("dbname")))


def database_url(ctx: Context) -> str:
    if ctx.db_url is None:
        raise CheckError(
            "could not check: no database URL for this environment (GOLIVE_DATABASE_URL)", status=Status.UNVERIFIED
        )
    return ctx.db_url


def app_db(ctx: Context, command: str) -> tuple[int, str]:
    """`python -m app.db <command>` from the repository, the URL in its environment (never on its command line)."""
    with tempfile.TemporaryDirectory(prefix="golive-appdb-") as scratch:
        # GOLIVE_ENV=local makes throwaway secrets (unused here) in a scratch folder, not in anyone's state.
        env = {
            **os.environ,
            "GOLIVE_DATABASE_URL": database_url(ctx),
            "GOLIVE_ENV": "local",
            "GOLIVE_STATE_DIR": scratch,
        }
        done = subprocess.run(
            [sys.executable, "-m", "app.db", command],
            cwd=ctx.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return done.returncode, (done.stdout + done.stderr).strip()


@check("database.reachable")
def reachable(ctx: Context, args: dict[str, Any]) -> Result:
    url = database_url(ctx)
    service_url = ctx.service_settings.get("GOLIVE_DATABASE_URL", "")
    command = f"compare GOLIVE_DATABASE_URL of {ctx.settings_file} with the release's; SELECT version()"
    if not service_url:
        return failed(f"GOLIVE_DATABASE_URL is not set in {ctx.settings_file}", command)
    ours, theirs = _where(url), _where(service_url)
    if ours[2] != theirs[2] or (ctx.env.is_local and ours != theirs):
        return failed(f"the service uses database {theirs[2]!r} on {theirs[0]}, the release {ours[2]!r}", command)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return failed(f"database {ours[2]!r} on {ours[0]}:{ours[1]} does not answer: {str(exc).splitlines()[0]}")
    return passed(f"database {ours[2]!r} on {ours[0]}:{ours[1]} answers (PostgreSQL {row[0]})", command, row[0])


@check("database.at_head")
def at_head(ctx: Context, args: dict[str, Any]) -> Result:
    code, current = app_db(ctx, "current")
    _, head = app_db(ctx, "head")
    command = "python -m app.db current; python -m app.db head"
    if code != 0:
        return failed(current.splitlines()[-1], command)
    if current != head:
        return failed(f"the database is at {current}, the code's head is {head}", command, current)
    return passed(f"schema at {current}, the code's head", command, current)


@check("database.verify")
def verify(ctx: Context, args: dict[str, Any]) -> Result:
    code, output = app_db(ctx, "verify")
    line = output.splitlines()[-1] if output else "no output"
    if code != 0:
        return failed(line, "python -m app.db verify")
    return passed(line, "python -m app.db verify")


@check("database.latency")
def latency(ctx: Context, args: dict[str, Any]) -> Result:
    url = database_url(ctx)
    query = "SELECT state, count(*) FROM payments GROUP BY state"
    timings = []
    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
            for _ in range(20):
                started = time.perf_counter()
                conn.execute(query).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
    except psycopg.Error as exc:
        return failed(f"the query failed: {str(exc).splitlines()[0]}", query)
    p95 = statistics.quantiles(timings, n=20)[-1]
    limit = float(ctx.config["max_db_query_ms"])
    detail = f"p95 {p95:.1f} ms over 20 runs (at most {limit:g} ms)"
    return (passed if p95 <= limit else failed)(detail, f"20 x {query}", round(p95, 2))


@check("database.worker_leader")
def worker_leader(ctx: Context, args: dict[str, Any]) -> Result:
    """The recovery worker runs: one holder of its lease in PostgreSQL, renewed within the lease's lifetime."""
    url = database_url(ctx)
    command = "SELECT holder, fence, expires_at - now() FROM worker_leases WHERE role = 'recovery'"
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT holder, fence, extract(epoch FROM expires_at - now()) FROM worker_leases"
                " WHERE role = 'recovery'"
            ).fetchone()
    except psycopg.Error as exc:
        return failed(f"the database does not answer: {str(exc).splitlines()[0]}", command)
    if row is None:
        return failed("no recovery worker has ever led (python -m app.worker is not running)", command)
    holder, fence, left = row
    if left <= 0:
        return failed(f"the recovery worker's lease (last held by {holder}) expired {-left:.0f} s ago", command)
    return passed(f"recovery worker {holder} leads (fence {fence}, lease valid {left:.1f} s more)", command, holder)
