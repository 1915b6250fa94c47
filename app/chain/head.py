"""golive_chain_head_age_seconds: how old the chain's head block is, as this process last read it.

While the chain cannot be read the age keeps growing from the newest head seen, so an RPC that stays down
looks like the stale chain it is to whoever watches the gauge (before any head was read it is left alone)."""

from __future__ import annotations

import time
from typing import Any

from app.chain.metrics import CHAIN_HEAD_AGE
from app.chain.rpc import ChainRpc

_newest: dict[str, int] = {}  # "timestamp" → the newest head's, once one was read


def head_age(block: dict[str, Any], now: float | None = None) -> float:
    """Seconds since the block's timestamp (never negative: a chain may date its blocks a little ahead)."""
    return max(0.0, (time.time() if now is None else now) - int(block["timestamp"], 16))


def record_head(block: dict[str, Any], now: float | None = None) -> float:
    """The head block's age, set on the gauge."""
    age = head_age(block, now)
    _newest["timestamp"] = int(block["timestamp"], 16)
    CHAIN_HEAD_AGE.set(age)
    return age


def record_unreadable(now: float | None = None) -> float | None:
    """The chain could not be asked: the age of the newest head seen, growing; None when none was ever read."""
    if "timestamp" not in _newest:
        return None
    age = max(0.0, (time.time() if now is None else now) - _newest["timestamp"])
    CHAIN_HEAD_AGE.set(age)
    return age


async def refresh(rpc: ChainRpc) -> float:
    """One eth_getBlockByNumber("latest"): the head's age, set on the gauge. Raises what the RPC raises (after
    setting the growing age); an answer without a timestamp is a ValueError."""
    try:
        block = await rpc.call("eth_getBlockByNumber", "latest", False)
        if not isinstance(block, dict) or not isinstance(block.get("timestamp"), str):
            raise ValueError("eth_getBlockByNumber(latest) answered no block timestamp")
        return record_head(block)
    except Exception:
        record_unreadable()
        raise
