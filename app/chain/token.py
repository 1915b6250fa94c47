"""The USDT token's ABI, by hand: three calls and one event are all the service needs.

Tether's `transfer` returns nothing, so a payout's success is never read from a return value: it is the
receipt's status and a Transfer log from the token, from the treasury, to the wallet, for the amount."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRANSFER = "0xa9059cbb"  # transfer(address,uint256)
BALANCE_OF = "0x70a08231"  # balanceOf(address)
DECIMALS = "0x313ce567"  # decimals()
TRANSFER_TOPIC = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # Transfer(address,address,uint256)
)


def _word(value: int) -> str:
    if not 0 <= value < 2**256:
        raise ValueError(f"not a uint256: {value}")
    return f"{value:064x}"


def _address_word(address: str) -> str:
    if len(address) != 42 or not address.startswith("0x"):
        raise ValueError(f"not an address: {address!r}")
    return "0" * 24 + address[2:].lower()


def transfer_data(to: str, amount: int) -> str:
    return TRANSFER + _address_word(to) + _word(amount)


def balance_of_data(owner: str) -> str:
    return BALANCE_OF + _address_word(owner)


def decode_uint(result: str) -> int:
    if not isinstance(result, str) or not result.startswith("0x") or len(result) < 3:
        raise ValueError(f"not an ABI-encoded uint: {result!r}")
    return int(result, 16)


@dataclass(frozen=True)
class Transfer:
    token: str
    sender: str
    to: str
    amount: int


def transfers_in(receipt: dict[str, Any]) -> list[Transfer]:
    """Every ERC-20 Transfer event in a receipt (from any contract: the caller checks which token)."""
    found = []
    for log in receipt.get("logs") or []:
        topics = log.get("topics") or []
        if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
            continue
        found.append(
            Transfer(
                token=log["address"].lower(),
                sender="0x" + topics[1][-40:].lower(),
                to="0x" + topics[2][-40:].lower(),
                amount=int(log.get("data") or "0x0", 16),
            )
        )
    return found


def pays(receipt: dict[str, Any], *, token: str, sender: str, to: str, amount: int) -> bool:
    """The receipt succeeded and carries exactly this transfer."""
    if receipt.get("status") not in ("0x1", 1):
        return False
    wanted = Transfer(token.lower(), sender.lower(), to.lower(), amount)
    return wanted in transfers_in(receipt)
