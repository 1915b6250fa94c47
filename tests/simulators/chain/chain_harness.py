"""The harness of the chain simulator tests: `python -m simulators.chain` as a real subprocess on a free
loopback port (stopped by PID), and a small client of its /__chain__ control API."""

from contextlib import AbstractContextManager
from typing import Any

import httpx

from tests.support.module_server import RunningServer, module_command, module_env, run_module_server

# A throwaway treasury key for the tests (never a real one): the simulator takes it from the environment.
TREASURY_KEY = "0x" + "7e" * 32
CHAIN_ID = 31337


def chain_command(*args: str) -> list[str]:
    return module_command("simulators.chain", *args)


def chain_env(**overrides: str | None) -> dict[str, str]:
    return module_env("GOLIVE_", {"GOLIVE_TREASURY_PRIVATE_KEY": TREASURY_KEY}, **overrides)


RunningChain = RunningServer


def run_chain(*args: str, env: dict[str, str] | None = None) -> AbstractContextManager[RunningServer]:
    return run_module_server(
        "simulators.chain", *args, env=env if env is not None else chain_env(), health_path="/__chain__/health"
    )


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
