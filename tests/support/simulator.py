"""The Daraja simulator as the service's tests use it: a real server in a subprocess."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.processes import free_port, start_module, stop_process

CONSUMER_KEY = "test-consumer-key-0123456789"
CONSUMER_SECRET = "test-consumer-secret-0123456789"


class Simulator:
    def __init__(self, *, callback_delay: float = 0.05, callback_source: str = "127.0.0.1"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY, "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET}
        self.process = start_module(
            "simulators.daraja",
            "--port",
            str(self.port),
            "--callback-delay",
            str(callback_delay),
            "--callback-source",
            callback_source,
            env=env,
            health_url=f"{self.url}/__sim__/health",
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.http.post("/__sim__/config", json=changes)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self.http.post("/__sim__/reset").raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        return self.http.get("/__sim__/requests", params={"path": path} if path else None).json()

    def pushes(self) -> list[dict[str, Any]]:
        return self.requests("/mpesa/stkpush/v1/processrequest")

    def accepted_pushes(self) -> list[dict[str, Any]]:
        """Pushes Daraja accepted (a push refused for a stale token is retried by the service)."""
        return [push for push in self.pushes() if push["status"] == 200]

    def oauth_requests(self) -> list[dict[str, Any]]:
        return self.requests("/oauth/v1/generate")

    def callbacks(self) -> list[dict[str, Any]]:
        return self.http.get("/__sim__/callbacks").json()

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process)
