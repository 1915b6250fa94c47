"""py-evm objects → the JSON-RPC shapes geth answers with (hex quantities, 256-byte logsBloom, ...)."""

from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, ReceiptAPI, SignedTransactionAPI
from eth.rlp.transactions import BaseTransaction


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def word(value: int | bytes) -> str:
    if isinstance(value, int):
        return "0x" + value.to_bytes(32, "big").hex()
    return "0x" + bytes(value).rjust(32, b"\0").hex()


def address(value: bytes) -> str | None:
    return "0x" + bytes(value).hex() if value else None


def bloom(value: int) -> str:
    return "0x" + value.to_bytes(256, "big").hex()


def is_typed(tx: SignedTransactionAPI) -> bool:
    return not isinstance(tx, BaseTransaction)


def tx_type(tx: SignedTransactionAPI) -> int:
    return tx.type_id if is_typed(tx) else 0


def fee_caps(tx: SignedTransactionAPI) -> tuple[int, int]:
    """(max fee per gas, max priority fee per gas); both are gasPrice for legacy and access-list transactions."""
    if hasattr(tx, "max_fee_per_gas") and tx_type(tx) >= 2:
        return tx.max_fee_per_gas, tx.max_priority_fee_per_gas
    return tx.gas_price, tx.gas_price


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    max_fee, tip = fee_caps(tx)
    if tx_type(tx) < 2:
        return max_fee
    return base_fee + min(tip, max_fee - base_fee)


def transaction(
    tx: SignedTransactionAPI,
    block: BlockAPI | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    kind = tx_type(tx)
    max_fee, tip = fee_caps(tx)
    result: dict[str, Any] = {
        "blockHash": data(block.header.hash) if block is not None else None,
        "blockNumber": quantity(block.header.block_number) if block is not None else None,
        "from": address(tx.sender),
        "gas": quantity(tx.gas),
        "hash": data(tx.hash),
        "input": data(tx.data),
        "nonce": quantity(tx.nonce),
        "to": address(tx.to),
        "transactionIndex": quantity(index) if index is not None else None,
        "value": quantity(tx.value),
        "type": quantity(kind),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    if kind >= 2:
        base_fee = block.header.base_fee_per_gas if block is not None else None
        result["gasPrice"] = quantity(effective_gas_price(tx, base_fee) if base_fee is not None else max_fee)
        result["maxFeePerGas"] = quantity(max_fee)
        result["maxPriorityFeePerGas"] = quantity(tip)
    else:
        result["gasPrice"] = quantity(max_fee)
    if is_typed(tx):
        result["chainId"] = quantity(tx.chain_id)
        result["accessList"] = [
            {"address": address(entry_address), "storageKeys": [word(key) for key in keys]}
            for entry_address, keys in tx.access_list
        ]
        result["v"] = quantity(tx.y_parity)
        result["yParity"] = quantity(tx.y_parity)
    else:
        result["v"] = quantity(tx.v)
        if tx.v >= 35:
            result["chainId"] = quantity((tx.v - 35) // 2)
    return result


def block(blk: BlockAPI, full_transactions: bool) -> dict[str, Any]:
    header = blk.header
    result: dict[str, Any] = {
        "number": quantity(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "mixHash": data(header.mix_hash),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": bloom(header.bloom),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": data(header.coinbase),
        "difficulty": quantity(header.difficulty),
        "totalDifficulty": quantity(header.difficulty),
        "extraData": data(header.extra_data),
        "size": quantity(len(rlp.encode(blk))),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "baseFeePerGas": quantity(header.base_fee_per_gas),
        "transactions": [
            transaction(tx, blk, index) if full_transactions else data(tx.hash)
            for index, tx in enumerate(blk.transactions)
        ],
        "uncles": [],
    }
    for key, attribute in (
        ("withdrawalsRoot", "withdrawals_root"),
        ("parentBeaconBlockRoot", "parent_beacon_block_root"),
        ("requestsHash", "requests_hash"),
    ):
        if hasattr(header, attribute):
            result[key] = data(getattr(header, attribute))
    for key, attribute in (("blobGasUsed", "blob_gas_used"), ("excessBlobGas", "excess_blob_gas")):
        if hasattr(header, attribute):
            result[key] = quantity(getattr(header, attribute))
    if hasattr(blk, "withdrawals"):
        result["withdrawals"] = [
            {
                "index": quantity(w.index),
                "validatorIndex": quantity(w.validator_index),
                "address": address(w.address),
                "amount": quantity(w.amount),
            }
            for w in blk.withdrawals
        ]
    return result


def receipt_logs(
    receipt: ReceiptAPI, blk: BlockAPI, tx: SignedTransactionAPI, index: int, first_log_index: int
) -> list[dict[str, Any]]:
    return [
        {
            "address": address(log.address),
            "topics": [word(topic) for topic in log.topics],
            "data": data(log.data),
            "blockNumber": quantity(blk.header.block_number),
            "blockHash": data(blk.header.hash),
            "blockTimestamp": quantity(blk.header.timestamp),
            "transactionHash": data(tx.hash),
            "transactionIndex": quantity(index),
            "logIndex": quantity(first_log_index + offset),
            "removed": False,
        }
        for offset, log in enumerate(receipt.logs)
    ]


def block_receipts(blk: BlockAPI, receipts: tuple[ReceiptAPI, ...]) -> list[dict[str, Any]]:
    """Every receipt of a block, in order (gasUsed and logIndex depend on the ones before)."""
    results = []
    previous_cumulative = 0
    log_index = 0
    base_fee = blk.header.base_fee_per_gas
    for index, (tx, receipt) in enumerate(zip(blk.transactions, receipts, strict=True)):
        logs = receipt_logs(receipt, blk, tx, index, log_index)
        log_index += len(logs)
        results.append(
            {
                "transactionHash": data(tx.hash),
                "transactionIndex": quantity(index),
                "blockHash": data(blk.header.hash),
                "blockNumber": quantity(blk.header.block_number),
                "from": address(tx.sender),
                "to": address(tx.to),
                "cumulativeGasUsed": quantity(receipt.gas_used),
                "gasUsed": quantity(receipt.gas_used - previous_cumulative),
                "effectiveGasPrice": quantity(effective_gas_price(tx, base_fee)),
                "contractAddress": address(generate_contract_address(tx.sender, tx.nonce)) if not tx.to else None,
                "logs": logs,
                "logsBloom": bloom(receipt.bloom),
                "type": quantity(tx_type(tx)),
                "status": quantity(1 if receipt.state_root == b"\x01" else 0),
            }
        )
        previous_cumulative = receipt.gas_used
    return results
