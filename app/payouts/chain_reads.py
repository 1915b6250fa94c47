"""What the payout steps read from the chain: fees, balances, the treasury's confirmed nonce, receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.chain.rpc import ChainRpc, RpcError
from app.chain.token import balance_of_data, decode_uint, transfer_data


@dataclass(frozen=True)
class Treasury:
    usdt_units: int
    native_wei: int


async def fee_inputs(rpc: ChainRpc) -> tuple[int, int]:
    """(base fee of the next block as the latest block states it, the node's suggested tip)."""
    block = await rpc.call("eth_getBlockByNumber", "latest", False)
    base = int(block.get("baseFeePerGas") or "0x0", 16)
    tip = int(await rpc.call("eth_maxPriorityFeePerGas"), 16)
    return base, tip


async def treasury(rpc: ChainRpc, token: str, sender: str) -> Treasury:
    usdt = decode_uint(await rpc.call("eth_call", {"to": token, "data": balance_of_data(sender)}, "latest"))
    native = int(await rpc.call("eth_getBalance", sender, "latest"), 16)
    return Treasury(usdt, native)


async def confirmed_nonce(rpc: ChainRpc, sender: str) -> int:
    """Transactions of the sender already mined (the 'latest' count, not the pool's 'pending' one)."""
    return int(await rpc.call("eth_getTransactionCount", sender, "latest"), 16)


async def transfer_gas(rpc: ChainRpc, *, token: str, sender: str, to: str, amount: int) -> int:
    """The gas the transfer needs, with a margin; raises RpcError when the call would revert."""
    estimate = int(
        await rpc.call("eth_estimateGas", {"from": sender, "to": token, "data": transfer_data(to, amount)}), 16
    )
    return estimate * 5 // 4


async def receipt(rpc: ChainRpc, tx_hash: str) -> dict[str, Any] | None:
    return await rpc.call("eth_getTransactionReceipt", tx_hash)


def reverted_reason(exc: RpcError) -> str:
    return exc.message.removeprefix("execution reverted: ").removeprefix("execution reverted") or "reverted"
