"""GET /api/blockchain/health: is the chain usable for payouts right now?

Unhealthy when the RPC cannot be asked, serves another chain, or its head is older than
`chain_head_stale_seconds`. Shows the treasury's balances (never its key)."""

from __future__ import annotations

import time
from typing import Any

from app.chain.head import head_age, record_head, record_unreadable
from app.chain.rpc import ChainRpc, RpcError, RpcUnavailable
from app.chain.token import DECIMALS, balance_of_data, decode_uint
from app.settings import Settings


async def chain_health(rpc: ChainRpc, settings: Settings, treasury: str | None) -> tuple[bool, dict[str, Any]]:
    answer: dict[str, Any] = {"rpc_url_host": _host(settings.chain_rpc_url), "expected_chain_id": settings.chain_id}
    problems: list[str] = []
    try:
        started = time.perf_counter()
        chain_id = int(await rpc.call("eth_chainId"), 16)
        answer["rpc_latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        answer["chain_id"] = chain_id
        if chain_id != settings.chain_id:
            problems.append(f"the RPC serves chain {chain_id}, not {settings.chain_id}")
        head = await rpc.call("eth_getBlockByNumber", "latest", False)
        # golive_chain_head_age_seconds too, unless this is another chain's head.
        age = record_head(head) if chain_id == settings.chain_id else head_age(head)
        answer["head"] = {"number": int(head["number"], 16), "hash": head["hash"], "age_seconds": round(age, 1)}
        if age > settings.chain_head_stale_seconds:
            problems.append(f"the head block is {age:.0f} s old (stale after {settings.chain_head_stale_seconds:g} s)")
        if treasury is not None:
            answer["treasury"] = await _treasury(rpc, settings.token_address, treasury)
    except (RpcError, RpcUnavailable) as exc:
        problems.append(str(exc))
        if "head" not in answer:
            record_unreadable()
    answer["status"] = "unhealthy" if problems else "ok"
    if problems:
        answer["problems"] = problems
    return not problems, answer


async def _treasury(rpc: ChainRpc, token: str, address: str) -> dict[str, Any]:
    decimals = decode_uint(await rpc.call("eth_call", {"to": token, "data": DECIMALS}, "latest"))
    units = decode_uint(await rpc.call("eth_call", {"to": token, "data": balance_of_data(address)}, "latest"))
    wei = int(await rpc.call("eth_getBalance", address, "latest"), 16)
    return {
        "address": address,
        "token": token,
        "usdt": str(units / 10**decimals) if decimals else str(units),
        "usdt_units": str(units),
        "native_wei": str(wei),
        "native": f"{wei / 10**18:.6f}",
    }


def _host(url: str) -> str:
    """Where the RPC is, without any credentials or API key a provider URL may carry in its path."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1]
