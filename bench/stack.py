"""The parts a benchmark run needs, all on 127.0.0.1: an embedded PostgreSQL, the Daraja simulator and
ASGI servers (the service and the bare baseline). Command lines and environments are built by pure
functions; `Stack` starts the processes, remembers each PID and stops them all (also on Ctrl-C/error).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from app.db import migrator
from app.local import embedded_postgres

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("uvicorn", "granian")
SERVICE_TARGET = "app.main:create_app"
BARE_TARGET = "bench.bare_app:create_app"
# Throwaway values: the simulator checks them, nothing else ever sees them.
CONSUMER_KEY = "bench-consumer-key-0123456789"
CONSUMER_SECRET = "bench-consumer-secret-0123456789"
STOP_SECONDS = 15.0


class StackError(RuntimeError):
    """A part failed to start; the message says which and shows the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(server: str, target: str, *, port: int, workers: int) -> list[str]:
    """The ASGI server command line for an app factory, with the access log off."""
    common = ["--factory", target, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", *common, "--no-access-log", "--log-level", "warning"]
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            *common,
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    raise ValueError(f"unknown server {server!r}: one of {', '.join(SERVERS)}")


def simulator_command(port: int, callback_delay: float = 0.5) -> list[str]:
    return [
        sys.executable,
        "-m",
        "simulators.daraja",
        "--port",
        str(port),
        "--callback-delay",
        str(callback_delay),
    ]


def credentials_env() -> dict[str, str]:
    return {"GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY, "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET}


def service_env(
    *,
    state_dir: Path,
    database_url: str,
    simulator_url: str,
    public_url: str,
    callback_secret: str,
    metrics_dir: Path,
) -> dict[str, str]:
    """The service's environment: local, rate limiter off (it would refuse the load), warnings only
    (no access log lines during the measurement), metrics across workers as in production."""
    return {
        "GOLIVE_ENV": "local",
        "GOLIVE_STATE_DIR": str(state_dir),
        "GOLIVE_DATABASE_URL": database_url,
        "GOLIVE_DARAJA_BASE_URL": simulator_url,
        "GOLIVE_PUBLIC_BASE_URL": public_url,
        "GOLIVE_CALLBACK_SECRET": callback_secret,
        "GOLIVE_RATE_LIMIT_ENABLED": "false",
        "GOLIVE_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **credentials_env(),
    }


def clean_environ() -> dict[str, str]:
    """This process's environment without the developer's GOLIVE_* settings, which must not steer a run."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GOLIVE_", "GRANIAN_")) and name != "PROMETHEUS_MULTIPROC_DIR"
    }


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False


class Stack:
    """Every process of a run, started in its own session and stopped by its PID, newest first."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._processes: dict[int, tuple[str, subprocess.Popen]] = {}
        self._databases: list[Path] = []

    # -- PostgreSQL ---------------------------------------------------------------------------------
    def start_postgres(self) -> str:
        """The embedded server's maintenance-database URL."""
        data_dir = self.workdir / "pg"
        self._databases.append(data_dir)
        return embedded_postgres.start(data_dir)

    def postgres_pid(self) -> int:
        """The postmaster's PID (the embedded server runs detached from us)."""
        return int((self._databases[0] / "postmaster.pid").read_text().split("\n", 1)[0])

    @staticmethod
    def create_database(maintenance_url: str, name: str) -> str:
        """A new, migrated database on the embedded server; its URL."""
        with psycopg.connect(maintenance_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = maintenance_url.replace("/postgres?", f"/{name}?", 1)
        migrator.migrate(url)
        return url

    # -- processes ----------------------------------------------------------------------------------
    def start(self, name: str, command: list[str], *, env: dict[str, str], health_url: str) -> subprocess.Popen:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the parts in order
            )
        self._processes[process.pid] = (name, process)
        deadline = time.monotonic() + 60
        while not answers(health_url):
            if process.poll() is not None:
                raise StackError(f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise StackError(f"{name} did not answer on {health_url} within 60 s:\n{self.log_tail(name)}")
            time.sleep(0.2)
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM to the PID (the server stops its workers); if it is still there after STOP_SECONDS,
        SIGKILL to its process group (its own session, so the group id is that PID: it and its workers)."""
        self._processes.pop(process.pid, None)
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        for _name, process in reversed(list(self._processes.values())):
            self.stop(process)
        for data_dir in reversed(self._databases):
            embedded_postgres.stop(data_dir)
        self._databases.clear()
