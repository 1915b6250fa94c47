"""A simulator (or any `python -m` server) started on a free loopback port for a test, its output kept in
a log file, stopped by PID afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from foundation.repository import REPO_ROOT
from tests.support.processes import free_port


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def base_url(self) -> str:
        return self.url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def module_env(drop_prefix: str, settings: dict[str, str], **overrides: str | None) -> dict[str, str]:
    """This process's environment without variables starting with `drop_prefix`, plus `settings`;
    an override of None removes a variable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop_prefix)}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(settings)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextmanager
def run_module_server(
    module: str, *args: str, env: dict[str, str], health_path: str, timeout: float = 30.0
) -> Iterator[RunningServer]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"{module.rsplit('.', 1)[-1]}-sim-") as log_dir:
        log_path = Path(log_dir) / "server.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                module_command(module, "--port", str(port), *args),
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        running = RunningServer(process, f"http://127.0.0.1:{port}", log_path)
        try:
            _wait_until_healthy(module, running, health_path, timeout)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_healthy(module: str, running: RunningServer, health_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise RuntimeError(f"{module} exited with {running.process.returncode}:\n{running.log()}")
            try:
                if http.get(f"{running.url}{health_path}").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{module} not healthy after {timeout} s:\n{running.log()}")
