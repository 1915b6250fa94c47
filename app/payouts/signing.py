"""Signing a payout's token transfer as an EIP-1559 (type 2) transaction, locally: the node holds no keys."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.chain.token import transfer_data
from app.payouts.fees import Fees


@dataclass(frozen=True)
class SignedPayout:
    tx_hash: str  # 0x + 64 lowercase hex
    raw: bytes


def treasury_account(private_key: str) -> LocalAccount:
    return Account.from_key(private_key)


def sign_transfer(
    account: LocalAccount, *, chain_id: int, token: str, to: str, amount: int, nonce: int, gas: int, fees: Fees
) -> SignedPayout:
    transaction = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": token,
        "value": 0,
        "data": transfer_data(to, amount),
        "gas": gas,
        "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
    }
    signed = account.sign_transaction(transaction)
    return SignedPayout("0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction))
