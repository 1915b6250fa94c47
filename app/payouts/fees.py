"""EIP-1559 fees for a payout and for its replacements (pure)."""

from __future__ import annotations

from dataclasses import dataclass

GWEI = 10**9


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


class FeeCapExceeded(Exception):
    """The fees the network asks for are above the configured cap: the payout waits."""


def initial(base_fee: int, tip: int, cap_wei: int) -> Fees:
    """Room for the base fee to double twice over the next blocks (the usual 2 * base + tip)."""
    max_fee = 2 * base_fee + tip
    if max_fee > cap_wei:
        raise FeeCapExceeded(f"the network asks for {max_fee / GWEI:.1f} gwei, the cap is {cap_wei / GWEI:.1f}")
    return Fees(max_fee, tip)


def bumped(previous: Fees, base_fee: int, tip: int, percent: int, cap_wei: int) -> Fees:
    """A replacement at the same nonce: both the fee cap and the tip at least `percent` above the previous
    (nodes refuse a replacement that is not at least 10 % dearer in both), and enough for today's base fee."""
    min_tip = previous.max_priority_fee_per_gas * (100 + percent) // 100 + 1
    min_max = previous.max_fee_per_gas * (100 + percent) // 100 + 1
    new_tip = max(min_tip, tip)
    max_fee = max(min_max, 2 * base_fee + new_tip)
    if max_fee > cap_wei:
        raise FeeCapExceeded(
            f"a replacement needs {max_fee / GWEI:.1f} gwei, the cap is {cap_wei / GWEI:.1f}: the payout waits"
        )
    return Fees(max_fee, new_tip)
