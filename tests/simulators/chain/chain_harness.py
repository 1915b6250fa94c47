"""The harness of the chain simulator tests: `python -m simulators.chain` as a real subprocess on a free
loopback port (stopped by PID), and a small client of its /__chain__ control API."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[3]
# A throwaway treasury key for the tests (never a real one): the simulator takes it from the environment.
TREASURY_KEY = "0x" + "7e" * 32
CHAIN_ID = 31337


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def chain_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "simulators.chain", *args]


def chain_env(**overrides: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["GOLIVE_TREASURY_PRIVATE_KEY"] = TREASURY_KEY
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class RunningChain:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def run_chain(*args: str, env: dict[str, str] | None = None) -> Iterator[RunningChain]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="chain-sim-") as log_dir:
        log_path = Path(log_dir) / "chain.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                chain_command("--port", str(port), *args),
                cwd=REPO_ROOT,
                env=env if env is not None else chain_env(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        running = RunningChain(process, f"http://127.0.0.1:{port}", log_path)
        try:
            _wait_until_healthy(running)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_healthy(running: RunningChain, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise RuntimeError(f"chain simulator exited with {running.process.returncode}:\n{running.log()}")
            try:
                if http.get(f"{running.url}/__chain__/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"chain simulator not healthy after {timeout} s:\n{running.log()}")


class Control:
    """The /__chain__ control API."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(f"{self.url}/__chain__/{path}", params=params)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = self.http.post(f"{self.url}/__chain__/{path}", json=body if body is not None else {})
        assert answer.status_code == expect, answer.text
        return answer.json()

    def reset(self) -> dict[str, Any]:
        return self.post("reset")

    def mine(self, blocks: int = 1) -> dict[str, Any]:
        return self.post("mine", {"blocks": blocks})

    def mining(self, auto: bool | None = None, block_time: float | None = None) -> dict[str, Any]:
        body = {key: value for key, value in (("auto", auto), ("block_time", block_time)) if value is not None}
        return self.post("mining", body)

    def faults(self, **switches: Any) -> dict[str, Any]:
        return self.post("faults", switches)

    def fund(self, address: str, **amounts: Any) -> dict[str, Any]:
        return self.post("fund", {"address": address, **amounts})
