"""The Ethereum JSON-RPC methods the simulator answers, over a Node. Each takes the params list and returns
the JSON result or raises RpcError."""

import bisect
from collections.abc import Callable
from typing import Any

from simulators.chain import formatting
from simulators.chain.node import PRIORITY_FEE_SUGGESTION, Node
from simulators.chain.rpc_errors import RpcError, invalid_params, server_error

CLIENT_VERSION = "golive-chain-simulator/v1/py-evm"
MAX_FEE_HISTORY_BLOCKS = 1024


def _arg(params: list[Any], index: int, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise invalid_params(f"missing value for required argument {index}")
    return default


def parse_quantity(value: Any, index: int = 0) -> int:
    if isinstance(value, str) and value.startswith(("0x", "0X")) and len(value) > 2:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise invalid_params(f"invalid argument {index}: hex string {value!r} is not a quantity")


def parse_data(value: Any, index: int = 0) -> bytes:
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise invalid_params(f"invalid argument {index}: {value!r} is not hex data")


def parse_address(value: Any, index: int = 0) -> bytes:
    raw = parse_data(value, index)
    if len(raw) != 20:
        raise invalid_params(f"invalid argument {index}: hex string has length {len(raw) * 2}, want 40 for address")
    return raw


def parse_hash(value: Any, index: int = 0) -> bytes:
    raw = parse_data(value, index)
    if len(raw) != 32:
        raise invalid_params(f"invalid argument {index}: hex string has length {len(raw) * 2}, want 64 for hash")
    return raw


def parse_block_tag(value: Any, index: int) -> Any:
    if value in (None, "latest", "safe", "finalized", "pending", "earliest"):
        return value
    if isinstance(value, dict) and "blockHash" in value:
        parse_hash(value["blockHash"], index)
        return value
    if isinstance(value, dict) and "blockNumber" in value:
        return hex(parse_quantity(value["blockNumber"], index))
    parse_quantity(value, index)
    return value


def parse_call(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_params("invalid argument 0: transaction call object expected")
    call: dict[str, Any] = {}
    if value.get("from"):
        call["from"] = parse_address(value["from"])
    if value.get("to"):
        call["to"] = parse_address(value["to"])
    payload = value.get("input", value.get("data"))
    if payload is not None:
        call["data"] = parse_data(payload)
    for key, name in (
        ("gas", "gas"),
        ("value", "value"),
        ("gasPrice", "gas_price"),
        ("maxFeePerGas", "max_fee_per_gas"),
        ("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
    ):
        if value.get(key) is not None:
            call[name] = parse_quantity(value[key])
    if "max_fee_per_gas" in call or "max_priority_fee_per_gas" in call:
        call.pop("gas_price", None)
        call.setdefault("max_priority_fee_per_gas", 0)
        call.setdefault("max_fee_per_gas", call["max_priority_fee_per_gas"])
    return call


class Methods:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.table: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda _p: CLIENT_VERSION,
            "web3_sha3": self.web3_sha3,
            "net_version": lambda _p: str(self.node.settings.chain_id),
            "net_listening": lambda _p: True,
            "net_peerCount": lambda _p: "0x0",
            "eth_chainId": lambda _p: hex(self.node.settings.chain_id),
            "eth_syncing": lambda _p: False,
            "eth_mining": lambda _p: False,
            "eth_accounts": lambda _p: [],
            "eth_blockNumber": lambda _p: hex(self.node.head().block_number),
            "eth_gasPrice": lambda _p: hex(self.node.chain.header.base_fee_per_gas + PRIORITY_FEE_SUGGESTION),
            "eth_maxPriorityFeePerGas": lambda _p: hex(PRIORITY_FEE_SUGGESTION),
            "eth_feeHistory": self.eth_fee_history,
            "eth_getBlockByNumber": self.eth_get_block_by_number,
            "eth_getBlockByHash": self.eth_get_block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.eth_get_block_transaction_count_by_number,
            "eth_getBlockReceipts": self.eth_get_block_receipts,
            "eth_getBalance": self.eth_get_balance,
            "eth_getTransactionCount": self.eth_get_transaction_count,
            "eth_getCode": self.eth_get_code,
            "eth_getStorageAt": self.eth_get_storage_at,
            "eth_call": self.eth_call,
            "eth_estimateGas": self.eth_estimate_gas,
            "eth_sendRawTransaction": self.eth_send_raw_transaction,
            "eth_sendTransaction": self.eth_send_transaction,
            "eth_getTransactionByHash": self.eth_get_transaction_by_hash,
            "eth_getTransactionReceipt": self.eth_get_transaction_receipt,
            "eth_getLogs": self.eth_get_logs,
        }
        self.on_transaction: Callable[[], None] = lambda: None  # set by the app: auto-mining

    def dispatch(self, method: str, params: list[Any]) -> Any:
        handler = self.table.get(method)
        if handler is None:
            raise RpcError(-32601, f"the method {method} does not exist/is not available")
        return handler(params)

    def web3_sha3(self, params: list[Any]) -> str:
        from eth_utils import keccak  # noqa: PLC0415

        return formatting.data(keccak(parse_data(_arg(params, 0))))

    def eth_get_block_by_number(self, params: list[Any]) -> Any:
        blk = self.node.block_by_number(parse_block_tag(_arg(params, 0), 0))
        return None if blk is None else formatting.block(blk, bool(_arg(params, 1, False)))

    def eth_get_block_by_hash(self, params: list[Any]) -> Any:
        blk = self.node.block_by_hash(parse_hash(_arg(params, 0)))
        return None if blk is None else formatting.block(blk, bool(_arg(params, 1, False)))

    def eth_get_block_transaction_count_by_number(self, params: list[Any]) -> Any:
        blk = self.node.block_by_number(parse_block_tag(_arg(params, 0), 0))
        return None if blk is None else hex(len(blk.transactions))

    def eth_get_block_receipts(self, params: list[Any]) -> Any:
        number = self.node.block_number_of(parse_block_tag(_arg(params, 0), 0))
        return None if number is None else self.node.block_receipts(number)

    def eth_get_balance(self, params: list[Any]) -> str:
        address = parse_address(_arg(params, 0))
        return hex(self.node.state(parse_block_tag(_arg(params, 1, "latest"), 1)).get_balance(address))

    def eth_get_transaction_count(self, params: list[Any]) -> str:
        address = parse_address(_arg(params, 0))
        return hex(self.node.nonce(address, parse_block_tag(_arg(params, 1, "latest"), 1)))

    def eth_get_code(self, params: list[Any]) -> str:
        address = parse_address(_arg(params, 0))
        return formatting.data(self.node.state(parse_block_tag(_arg(params, 1, "latest"), 1)).get_code(address))

    def eth_get_storage_at(self, params: list[Any]) -> str:
        address = parse_address(_arg(params, 0))
        slot = parse_quantity(_arg(params, 1), 1)
        state = self.node.state(parse_block_tag(_arg(params, 2, "latest"), 2))
        return formatting.word(state.get_storage(address, slot))

    def eth_call(self, params: list[Any]) -> str:
        call = parse_call(_arg(params, 0))
        return formatting.data(self.node.call(call, parse_block_tag(_arg(params, 1, "latest"), 1)))

    def eth_estimate_gas(self, params: list[Any]) -> str:
        call = parse_call(_arg(params, 0))
        return hex(self.node.estimate_gas(call, parse_block_tag(_arg(params, 1, "latest"), 1)))

    def eth_send_raw_transaction(self, params: list[Any]) -> str:
        tx_hash = self.node.send_raw_transaction(parse_data(_arg(params, 0)))
        self.on_transaction()
        return formatting.data(tx_hash)

    def eth_send_transaction(self, params: list[Any]) -> str:
        raise server_error("unknown account")  # the node holds no keys: sign locally, send raw

    def eth_get_transaction_by_hash(self, params: list[Any]) -> Any:
        return self.node.transaction(parse_hash(_arg(params, 0)))

    def eth_get_transaction_receipt(self, params: list[Any]) -> Any:
        return self.node.receipt(parse_hash(_arg(params, 0)))

    def eth_get_logs(self, params: list[Any]) -> list[Any]:
        query = _arg(params, 0)
        if not isinstance(query, dict):
            raise invalid_params("invalid argument 0: filter object expected")
        head = self.node.head().block_number
        if query.get("blockHash") is not None:
            if query.get("fromBlock") is not None or query.get("toBlock") is not None:
                raise invalid_params("invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock")
            blk = self.node.block_by_hash(parse_hash(query["blockHash"]))
            if blk is None:
                raise server_error("unknown block")
            first = last = blk.header.block_number
        else:
            first = self._log_bound(query.get("fromBlock"), head)
            last = self._log_bound(query.get("toBlock"), head)
            if first > last:
                raise invalid_params("invalid block range params")
            last = min(last, head)
        addresses = query.get("address") or []
        if isinstance(addresses, str):
            addresses = [addresses]
        wanted_addresses = {formatting.address(parse_address(a)) for a in addresses}
        topics: list[set[str] | None] = []
        for position in query.get("topics") or []:
            if position is None:
                topics.append(None)
            else:
                options = position if isinstance(position, list) else [position]
                topics.append({formatting.data(parse_hash(t)) for t in options} if options else None)
        return self.node.logs(first, last, wanted_addresses, topics)

    def _log_bound(self, value: Any, head: int) -> int:
        if value in (None, "latest", "safe", "finalized", "pending"):
            return head
        if value == "earliest":
            return 0
        return parse_quantity(value)

    def eth_fee_history(self, params: list[Any]) -> dict[str, Any]:
        count_arg = _arg(params, 0)
        count = count_arg if isinstance(count_arg, int) else parse_quantity(count_arg, 0)
        newest = self.node.block_number_of(parse_block_tag(_arg(params, 1), 1))
        if newest is None:
            raise server_error("header not found")
        percentiles = _arg(params, 2, None) or []
        if any(not 0 <= p <= 100 for p in percentiles) or percentiles != sorted(percentiles):
            raise invalid_params("invalid reward percentile")
        count = max(0, min(count, MAX_FEE_HISTORY_BLOCKS, newest + 1))
        oldest = newest - count + 1
        base_fees, ratios, rewards = [], [], []
        for number in range(oldest, newest + 1):
            blk = self.node.chain.get_canonical_block_by_number(number)
            header = blk.header
            base_fees.append(hex(header.base_fee_per_gas))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append([hex(r) for r in _block_rewards(blk, self.node.block_receipts(number), percentiles)])
        if newest == self.node.head().block_number:
            base_fees.append(hex(self.node.chain.header.base_fee_per_gas))
        else:
            base_fees.append(hex(self.node.chain.get_canonical_block_by_number(newest + 1).header.base_fee_per_gas))
        result: dict[str, Any] = {"oldestBlock": hex(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
        if percentiles:
            result["reward"] = rewards
        return result


def _block_rewards(blk: Any, receipts: list[dict[str, Any]], percentiles: list[float]) -> list[int]:
    """Tips at the given percentiles of gas used in the block, as geth computes them."""
    if not blk.transactions:
        return [0] * len(percentiles)
    base_fee = blk.header.base_fee_per_gas
    tips = sorted(
        (formatting.effective_gas_price(tx, base_fee) - base_fee, int(receipt["gasUsed"], 16))
        for tx, receipt in zip(blk.transactions, receipts, strict=True)
    )
    cumulative = []
    total = 0
    for _tip, gas in tips:
        total += gas
        cumulative.append(total)
    return [
        tips[min(bisect.bisect_left(cumulative, blk.header.gas_used * p / 100), len(tips) - 1)][0] for p in percentiles
    ]
