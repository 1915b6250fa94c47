"""An async Ethereum JSON-RPC client over aiohttp: one timeout per call, errors sorted into "the node
answered no" (RpcError, with geth's code, message and data) and "the node could not be asked"
(RpcUnavailable: connection refused, timeout, HTTP 429/5xx, an answer that is not JSON-RPC)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp

from app.chain.metrics import RPC_DURATION, RPC_ERRORS


class RpcError(Exception):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, code: int, message: str, data: Any = None):
        super().__init__(f"{method}: {message} (code {code})")
        self.method, self.code, self.message, self.data = method, code, message, data


class RpcUnavailable(Exception):
    """The node could not be asked, or its answer was not JSON-RPC: whether a send went out is unknown."""

    def __init__(self, method: str, kind: str, detail: str):
        super().__init__(f"{method}: chain RPC unavailable ({kind}): {detail}")
        self.method, self.kind = method, kind


def build_rpc_session(timeout_seconds: float, connect_timeout_seconds: float) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=connect_timeout_seconds)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=20, keepalive_timeout=2.0))


class ChainRpc:
    def __init__(self, url: str, http: aiohttp.ClientSession):
        self.url = url
        self._http = http
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        started = time.perf_counter()
        outcome = "unavailable"
        try:
            result = await self._call(method, list(params))
            outcome = "ok"
            return result
        except RpcError:
            outcome = "error"
            RPC_ERRORS.labels(method, "rpc_error").inc()
            raise
        except RpcUnavailable as exc:
            RPC_ERRORS.labels(method, exc.kind).inc()
            raise
        finally:
            RPC_DURATION.labels(method, outcome).observe(time.perf_counter() - started)

    async def _call(self, method: str, params: list[Any]) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            async with self._http.post(self.url, json=request) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise RpcUnavailable(method, "timeout", "no answer in time") from None
        except aiohttp.ClientConnectorError as exc:
            raise RpcUnavailable(method, "connect_error", str(exc.os_error or exc)) from None
        except aiohttp.ClientError as exc:
            raise RpcUnavailable(method, "connect_error", type(exc).__name__) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict) and status < 500 and status != 429:
            error = answer["error"]
            raise RpcError(method, int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
        if status != 200:
            raise RpcUnavailable(method, f"http_{status}", raw[:200].decode(errors="replace"))
        if not isinstance(answer, dict) or "result" not in answer:
            raise RpcUnavailable(method, "bad_answer", raw[:200].decode(errors="replace"))
        return answer["result"]
