"""Everything the running simulator holds: the node, the RPC methods over it, mining mode, fault switches and
the record of RPC calls."""

import random
import time
from collections import deque
from typing import Any

from simulators.chain.faults import Faults
from simulators.chain.node import Node, NodeSettings
from simulators.chain.rpc_methods import Methods
from simulators.chain.settings import Settings

CALL_RECORD_LIMIT = 20_000


class SimulatorState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.node = Node(
            NodeSettings(
                chain_id=settings.chain_id,
                treasury_key=settings.treasury_key,
                treasury_native_wei=settings.treasury_native_wei,
                treasury_usdt_units=settings.treasury_usdt_units,
                token_name=settings.token_name,
                token_symbol=settings.token_symbol,
            )
        )
        self.methods = Methods(self.node)
        self.methods.on_transaction = self.after_transaction
        self.rng = random.Random()
        self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_RECORD_LIMIT)
        self._reset_switches()

    def _reset_switches(self) -> None:
        self.auto_mine = self.settings.auto_mine
        self.block_time = self.settings.block_time
        self.faults = Faults()
        self.calls.clear()
        self.call_seq = 0
        self.last_block_at = time.monotonic()

    def reset(self) -> None:
        self.node.build()
        self._reset_switches()

    def after_transaction(self) -> None:
        """Auto-mining with block time 0: a block as soon as a transaction can go in one."""
        if self.auto_mine and self.block_time == 0 and self.node.has_executable():
            self.node.mine(1)
            self.last_block_at = time.monotonic()

    def tick(self) -> None:
        """Interval mining: a block (full or empty) every block_time seconds."""
        if self.auto_mine and self.block_time > 0 and time.monotonic() - self.last_block_at >= self.block_time:
            self.node.mine(1)
            self.last_block_at = time.monotonic()

    def mining_json(self) -> dict[str, Any]:
        return {"auto": self.auto_mine, "block_time": self.block_time}

    def record(self, method: Any, outcome: str, code: int | None, started: float) -> None:
        self.call_seq += 1
        self.calls.append(
            {
                "seq": self.call_seq,
                "at": time.time(),
                "method": method if isinstance(method, str) else None,
                "outcome": outcome,
                "code": code,
                "ms": round((time.monotonic() - started) * 1000, 3),
            }
        )

    def info(self) -> dict[str, Any]:
        node = self.node
        head = node.head()
        return {
            "rpc_url": f"http://{self.settings.host}:{self.settings.port}",
            "chain_id": self.settings.chain_id,
            "client_version": self.methods.dispatch("web3_clientVersion", []),
            "token": {
                "address": _checksum(node.token_address),
                "name": self.settings.token_name,
                "symbol": self.settings.token_symbol,
                "decimals": 6,
                "owner": node.deployer.address,
            },
            "treasury": {
                "address": node.treasury_address,
                "key": self.settings.treasury_key_source,
            },
            "head": {"number": head.block_number, "hash": "0x" + head.hash.hex(), "timestamp": head.timestamp},
            "mining": self.mining_json(),
            "pending": len(node.pool),
        }


def _checksum(address: bytes) -> str:
    from eth_utils import to_checksum_address  # noqa: PLC0415

    return to_checksum_address(address)
