"""The transaction pool: what was sent but not mined yet, keyed by sender and nonce, with geth's rules for
replacing a pending transaction (same nonce, both fee caps at least 10 % higher)."""

import time
from dataclasses import dataclass, field
from typing import Any

from simulators.chain.rpc_errors import server_error

PRICE_BUMP_PERCENT = 10  # geth's --txpool.pricebump default


@dataclass
class PooledTx:
    tx: Any  # a py-evm SignedTransactionAPI
    raw: bytes
    hash: bytes
    sender: bytes
    nonce: int
    max_fee: int  # maxFeePerGas, or gasPrice for legacy/type-1 transactions
    tip: int  # maxPriorityFeePerGas, or gasPrice
    received_at: float = field(default_factory=time.time)

    def effective_tip(self, base_fee: int) -> int:
        return min(self.tip, self.max_fee - base_fee)

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": "0x" + self.hash.hex(),
            "from": "0x" + self.sender.hex(),
            "nonce": self.nonce,
            "maxFeePerGas": self.max_fee,
            "maxPriorityFeePerGas": self.tip,
            "gas": self.tx.gas,
            "receivedAt": self.received_at,
        }


class TxPool:
    def __init__(self) -> None:
        self.by_sender: dict[bytes, dict[int, PooledTx]] = {}
        self.by_hash: dict[bytes, PooledTx] = {}
        self.replaced: list[dict[str, Any]] = []  # hashes that were replaced and will never be mined

    def __len__(self) -> int:
        return len(self.by_hash)

    def add(self, pooled: PooledTx) -> PooledTx | None:
        """Adds a transaction; returns the one it replaced, if any. Raises RpcError as geth's txpool does."""
        if pooled.hash in self.by_hash:
            raise server_error("already known")
        queue = self.by_sender.setdefault(pooled.sender, {})
        old = queue.get(pooled.nonce)
        if old is not None:
            if not (_bumped(pooled.max_fee, old.max_fee) and _bumped(pooled.tip, old.tip)):
                raise server_error("replacement transaction underpriced")
            del self.by_hash[old.hash]
            self.replaced.append({**old.to_json(), "replacedBy": "0x" + pooled.hash.hex(), "replacedAt": time.time()})
        queue[pooled.nonce] = pooled
        self.by_hash[pooled.hash] = pooled
        return old

    def remove(self, tx_hash: bytes) -> None:
        pooled = self.by_hash.pop(tx_hash, None)
        if pooled is None:
            return
        queue = self.by_sender.get(pooled.sender, {})
        queue.pop(pooled.nonce, None)
        if not queue:
            self.by_sender.pop(pooled.sender, None)

    def executable(self, sender: bytes, state_nonce: int) -> list[PooledTx]:
        """The sender's transactions that could run one after the other from `state_nonce` (no nonce gap)."""
        queue = self.by_sender.get(sender, {})
        run = []
        nonce = state_nonce
        while nonce in queue:
            run.append(queue[nonce])
            nonce += 1
        return run

    def drop_stale(self, sender: bytes, state_nonce: int) -> None:
        """Forgets the sender's transactions whose nonce is already used on chain."""
        for pooled in [p for n, p in self.by_sender.get(sender, {}).items() if n < state_nonce]:
            self.remove(pooled.hash)

    def senders(self) -> list[bytes]:
        return list(self.by_sender)

    def clear(self) -> None:
        self.by_sender.clear()
        self.by_hash.clear()
        self.replaced.clear()


def _bumped(new: int, old: int) -> bool:
    return new * 100 >= old * (100 + PRICE_BUMP_PERCENT)
