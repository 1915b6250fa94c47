"""The node: a py-evm chain (through eth-tester's PyEVMBackend), its transaction pool and the miner.

Everything here is synchronous and runs on the server's event-loop thread, one call at a time, so no locks
are needed. Transactions sent by clients go to the pool; a block is mined from the pool per transaction
(auto-mining, block time 0), every `block_time` seconds, or when the control API says so.
"""

import time
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI
from eth.exceptions import HeaderNotFound, Revert, VMError
from eth.vm.spoof import SpoofTransaction
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_keys import keys
from eth_tester import PyEVMBackend
from eth_utils import keccak, to_canonical_address

from simulators.chain import formatting, token
from simulators.chain.rpc_errors import RpcError, reverted, server_error
from simulators.chain.txpool import PooledTx, TxPool

# The account that deploys the token, owns it (mints) and pays out native coin for /__chain__/fund. Its key is
# derived from a public constant: it is a test fixture, not a secret, and only the simulator itself uses it.
DEPLOYER_KEY = keccak(b"golive chain simulator deployer")
DEPLOYER_BALANCE = 10**9 * 10**18
PRIORITY_FEE_SUGGESTION = 10**9  # eth_maxPriorityFeePerGas: 1 gwei
INTERNAL_GAS = 200_000
MINT_SELECTOR = keccak(b"mint(address,uint256)")[:4]


@dataclass
class NodeSettings:
    chain_id: int
    treasury_key: bytes
    treasury_native_wei: int
    treasury_usdt_units: int
    token_name: str
    token_symbol: str


class Node:
    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.deployer = Account.from_key(DEPLOYER_KEY)
        self.treasury_address = keys.PrivateKey(settings.treasury_key).public_key.to_checksum_address()
        self.pool = TxPool()
        self.build()

    # ---- life cycle -------------------------------------------------------------------------------------

    def build(self) -> None:
        """A fresh chain: genesis with the deployer and the treasury funded, the token deployed, the treasury's
        USDT minted. Deterministic: the token address is the same every time."""
        genesis_state = {
            to_canonical_address(self.deployer.address): _account(DEPLOYER_BALANCE),
            to_canonical_address(self.treasury_address): _account(self.settings.treasury_native_wei),
        }
        self.backend = PyEVMBackend(genesis_state=genesis_state)
        # eth-tester hard-codes its chain id on a class made for this backend alone; py-evm reads it from there.
        type(self.backend.chain).chain_id = self.settings.chain_id
        self.pool.clear()
        self._tx_location: dict[bytes, tuple[int, int]] = {}
        self._receipts: dict[int, list[dict[str, Any]]] = {}
        constructor_args = abi_encode(["string", "string"], [self.settings.token_name, self.settings.token_symbol])
        deploy = self._internal_tx(None, 0, token.bytecode() + constructor_args, gas=3_000_000)
        self._mine_one(include_pool=False, internal=[deploy])
        receipt = self.receipt(deploy.hash)
        assert receipt is not None and receipt["status"] == "0x1", "token deployment failed"
        self.token_address = to_canonical_address(receipt["contractAddress"])
        if self.settings.treasury_usdt_units:
            self.fund(to_canonical_address(self.treasury_address), 0, self.settings.treasury_usdt_units)

    @property
    def chain(self) -> Any:
        return self.backend.chain

    def head(self) -> BlockHeaderAPI:
        return self.chain.get_canonical_head()

    def snapshot(self) -> str:
        return formatting.data(self.head().hash)

    def revert(self, snapshot_id: str) -> None:
        try:
            block_hash = bytes.fromhex(snapshot_id.removeprefix("0x"))
            self.chain.get_block_header_by_hash(block_hash)
        except (ValueError, HeaderNotFound):
            raise KeyError(snapshot_id) from None
        self.backend.revert_to_snapshot(block_hash)
        head = self.head().block_number
        self.pool.clear()
        self._receipts = {number: r for number, r in self._receipts.items() if number <= head}
        self._tx_location = {h: loc for h, loc in self._tx_location.items() if loc[0] <= head}

    # ---- mining -----------------------------------------------------------------------------------------

    def mine(self, blocks: int = 1) -> list[str]:
        return [formatting.data(self._mine_one().header.hash) for _ in range(blocks)]

    def has_executable(self) -> bool:
        state = self.chain.get_vm(self.head()).state
        base_fee = self.chain.header.base_fee_per_gas
        return any(
            run and run[0].max_fee >= base_fee
            for run in (self.pool.executable(sender, state.get_nonce(sender)) for sender in self.pool.senders())
        )

    def _mine_one(self, include_pool: bool = True, internal: list[SignedTransactionAPI] = ()) -> BlockAPI:
        chain = self.chain
        parent = self.head()
        # The pending header was made when the parent was mined; give the block the time it is mined at.
        chain.header = chain.header.copy(timestamp=max(int(time.time()), parent.timestamp + 1))
        for tx in internal:
            chain.apply_transaction(tx)
        if include_pool:
            self._fill_from_pool(parent)
        self.backend.mine_blocks(1)
        mined = chain.get_canonical_block_by_number(self.head().block_number)
        for tx in mined.transactions:
            self.pool.remove(tx.hash)
        state = chain.get_vm(mined.header).state
        for sender in self.pool.senders():
            self.pool.drop_stale(sender, state.get_nonce(sender))
        self._index(mined)
        return mined

    def _fill_from_pool(self, parent: BlockHeaderAPI) -> None:
        """Greedy by effective tip, each sender's transactions in nonce order, as a geth miner would."""
        chain = self.chain
        base_fee = chain.header.base_fee_per_gas
        state = chain.get_vm(parent).state
        runs = {s: r for s in self.pool.senders() if (r := self.pool.executable(s, state.get_nonce(s)))}
        while runs:
            sender = max(runs, key=lambda s: (runs[s][0].effective_tip(base_fee), -runs[s][0].received_at))
            pooled = runs[sender].pop(0)
            if pooled.max_fee < base_fee or pooled.tx.gas > chain.header.gas_limit - chain.header.gas_used:
                del runs[sender]  # waits for a cheaper block (stuck) or for room
                continue
            try:
                chain.apply_transaction(pooled.tx)
            except Exception:  # no longer valid (e.g. the balance went elsewhere): geth drops it
                self.pool.remove(pooled.hash)
                del runs[sender]
                continue
            if not runs[sender]:
                del runs[sender]

    def _index(self, blk: BlockAPI) -> None:
        number = blk.header.block_number
        receipts = formatting.block_receipts(blk, blk.get_receipts(self.chain.chaindb))
        self._receipts[number] = receipts
        for index, tx in enumerate(blk.transactions):
            self._tx_location[tx.hash] = (number, index)

    # ---- transactions -----------------------------------------------------------------------------------

    def send_raw_transaction(self, raw: bytes) -> bytes:
        vm = self.chain.get_vm(self.head())
        try:
            tx = vm.get_transaction_builder().decode(raw)
        except Exception as error:
            raise server_error(f"invalid transaction: {error}") from None
        kind = formatting.tx_type(tx)
        if kind not in (0, 1, 2):
            raise server_error("transaction type not supported")
        if tx.hash in self.pool.by_hash:
            raise server_error("already known")
        try:
            sender = tx.sender
        except Exception:
            raise server_error("invalid sender") from None
        self._check_chain_id(tx)
        intrinsic = tx.intrinsic_gas
        if tx.gas < intrinsic:
            raise server_error(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic}")
        if tx.gas > self.chain.header.gas_limit:
            raise server_error("exceeds block gas limit")
        max_fee, tip = formatting.fee_caps(tx)
        if tip > max_fee:
            raise server_error(
                f"max priority fee per gas higher than max fee per gas: address {_hex(sender)}, "
                f"maxPriorityFeePerGas: {tip}, maxFeePerGas: {max_fee}"
            )
        nonce = vm.state.get_nonce(sender)
        if tx.nonce < nonce:
            raise server_error(f"nonce too low: address {_hex(sender)}, tx: {tx.nonce} state: {nonce}")
        balance = vm.state.get_balance(sender)
        cost = tx.gas * max_fee + tx.value
        if balance < cost:
            raise server_error(
                f"insufficient funds for gas * price + value: address {_hex(sender)} have {balance} want {cost}"
            )
        self.pool.add(PooledTx(tx=tx, raw=raw, hash=tx.hash, sender=sender, nonce=tx.nonce, max_fee=max_fee, tip=tip))
        return tx.hash

    def _check_chain_id(self, tx: SignedTransactionAPI) -> None:
        if formatting.is_typed(tx):
            chain_id = tx.chain_id
        elif tx.v in (27, 28):
            raise server_error("only replay-protected (EIP-155) transactions allowed over RPC")
        else:
            chain_id = (tx.v - 35) // 2
        if chain_id != self.settings.chain_id:
            raise server_error(f"invalid chain id for signer: have {chain_id} want {self.settings.chain_id}")

    def fund(self, address: bytes, wei: int, usdt_units: int) -> str:
        """Sends native coin and/or mints USDT to `address` in a block of its own (pending transactions stay
        pending). Returns that block's hash."""
        txs = []
        nonce = self.chain.get_vm(self.head()).state.get_nonce(to_canonical_address(self.deployer.address))
        if wei:
            txs.append(self._internal_tx(address, wei, b"", nonce=nonce))
            nonce += 1
        if usdt_units:
            call = MINT_SELECTOR + abi_encode(["address", "uint256"], [address, usdt_units])
            txs.append(self._internal_tx(self.token_address, 0, call, nonce=nonce))
        mined = self._mine_one(include_pool=False, internal=txs)
        failed = [r for r in self._receipts[mined.header.block_number] if r["status"] != "0x1"]
        if failed:
            raise RuntimeError(f"funding transaction failed: {failed[0]['transactionHash']}")
        return formatting.data(mined.header.hash)

    def _internal_tx(
        self, to: bytes | None, value: int, data: bytes, gas: int = INTERNAL_GAS, nonce: int | None = None
    ) -> SignedTransactionAPI:
        if nonce is None:
            nonce = self.chain.get_vm(self.head()).state.get_nonce(to_canonical_address(self.deployer.address))
        base_fee = self.chain.header.base_fee_per_gas
        fields: dict[str, Any] = {
            "type": 2,
            "chainId": self.settings.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": 2 * base_fee + PRIORITY_FEE_SUGGESTION,
            "maxPriorityFeePerGas": PRIORITY_FEE_SUGGESTION,
            "value": value,
            "data": data,
        }
        if to is not None:
            fields["to"] = to
        signed = self.deployer.sign_transaction(fields)
        return self.chain.get_vm().get_transaction_builder().decode(bytes(signed.raw_transaction))

    # ---- reads ------------------------------------------------------------------------------------------

    def header_at(self, tag: Any) -> BlockHeaderAPI:
        """The header whose post-state a state read at `tag` sees ("pending" reads the latest state)."""
        if isinstance(tag, dict) and "blockHash" in tag:
            try:
                return self.chain.get_block_header_by_hash(_bytes32(tag["blockHash"]))
            except HeaderNotFound:
                raise server_error(f"header for hash {tag['blockHash']} not found") from None
        number = self.block_number_of(tag)
        if number is None:
            raise server_error("header not found")
        return self.chain.get_canonical_block_header_by_number(number)

    def block_number_of(self, tag: Any) -> int | None:
        head = self.head().block_number
        if tag in (None, "latest", "safe", "finalized", "pending"):
            return head
        if tag == "earliest":
            return 0
        number = _quantity(tag)
        return number if number <= head else None

    def state(self, tag: Any) -> Any:
        return self.chain.get_vm(self.header_at(tag)).state

    def nonce(self, address: bytes, tag: Any) -> int:
        state_nonce = self.state(tag).get_nonce(address)
        if tag == "pending":
            return state_nonce + len(self.pool.executable(address, state_nonce))
        return state_nonce

    def block_by_number(self, tag: Any) -> BlockAPI | None:
        number = self.block_number_of(tag)
        return None if number is None else self.chain.get_canonical_block_by_number(number)

    def block_by_hash(self, block_hash: bytes) -> BlockAPI | None:
        try:
            header = self.chain.get_block_header_by_hash(block_hash)
            canonical = self.chain.get_canonical_block_header_by_number(header.block_number)
        except HeaderNotFound:
            return None
        if canonical.hash != header.hash:
            return None
        return self.chain.get_canonical_block_by_number(header.block_number)

    def transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        location = self._tx_location.get(tx_hash)
        if location is not None:
            blk = self.chain.get_canonical_block_by_number(location[0])
            return formatting.transaction(blk.transactions[location[1]], blk, location[1])
        pooled = self.pool.by_hash.get(tx_hash)
        if pooled is not None:
            return formatting.transaction(pooled.tx)
        return None

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        location = self._tx_location.get(tx_hash)
        if location is None:
            return None
        return self._receipts[location[0]][location[1]]

    def logs(self, from_block: int, to_block: int, addresses: set[str], topics: list[set[str] | None]) -> list:
        found = []
        for number in range(from_block, to_block + 1):
            for receipt in self._receipts.get(number, ()):
                for log in receipt["logs"]:
                    if addresses and log["address"] not in addresses:
                        continue
                    if len(topics) > len(log["topics"]):
                        continue
                    if all(wanted is None or log["topics"][i] in wanted for i, wanted in enumerate(topics)):
                        found.append(log)
        return found

    def block_receipts(self, number: int) -> list[dict[str, Any]]:
        return self._receipts.get(number, [])

    # ---- execution without a transaction ----------------------------------------------------------------

    def call(self, params: dict[str, Any], tag: Any) -> bytes:
        computation = self._execute(params, tag)
        if computation.is_error:
            raise _execution_error(computation._error, computation.output)
        return computation.output

    def estimate_gas(self, params: dict[str, Any], tag: Any) -> int:
        unsigned, sender, header = self._unsigned(dict(params, gas=21_000), tag)
        try:
            return self.chain.estimate_gas(SpoofTransaction(unsigned, from_=sender), header)
        except Revert as error:
            raise reverted(error.args[0] if error.args and isinstance(error.args[0], bytes) else b"") from None
        except VMError as error:
            raise server_error(_vm_error_text(error)) from None
        except Exception as error:
            raise server_error(str(error)) from None

    def _execute(self, params: dict[str, Any], tag: Any) -> Any:
        if "gas" not in params:
            params = dict(params, gas=self.chain.header.gas_limit)
        unsigned, sender, header = self._unsigned(params, tag)
        state = self.chain.get_vm(header).state
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(unsigned, from_=sender))
        except RpcError:
            raise
        except Exception as error:
            raise server_error(str(error)) from None
        finally:
            state.revert(snapshot)

    def _unsigned(self, params: dict[str, Any], tag: Any) -> tuple[Any, bytes, BlockHeaderAPI]:
        """An unsigned transaction for eth_call/eth_estimateGas. With no fee given it pays nothing and runs
        with a zero base fee, as geth does, so a caller with no balance can still call."""
        header = self.header_at(tag)
        sender = params.get("from") or b"\0" * 20
        tx: dict[str, Any] = {
            "from": sender,
            "to": params.get("to") or b"",
            "gas": params["gas"],
            "value": params.get("value", 0),
            "data": params.get("data", b""),
            "nonce": self.chain.get_vm(header).state.get_nonce(sender),
        }
        fee_keys = ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas")
        if any(key in params for key in fee_keys):
            for key in fee_keys:
                if key in params:
                    tx[key] = params[key]
        else:
            tx["gas_price"] = 0
            header = header.copy(base_fee_per_gas=0)
        try:
            unsigned = self.backend._get_normalized_and_unsigned_evm_transaction(tx, header.block_number)
        except Exception as error:
            raise server_error(str(error)) from None
        return unsigned, sender, header


def _execution_error(error: Exception, output: bytes) -> RpcError:
    if isinstance(error, Revert):
        return reverted(output)
    return server_error(_vm_error_text(error))


def _vm_error_text(error: Exception) -> str:
    name = type(error).__name__
    if name == "OutOfGas":
        return "out of gas"
    if name in ("InvalidInstruction", "InvalidJumpDestination", "StackUnderflow", "StackDepthLimit"):
        return f"invalid opcode: {error}" if name == "InvalidInstruction" else str(error) or name
    return str(error) or name


def _account(balance: int) -> dict[str, Any]:
    return {"balance": balance, "nonce": 0, "code": b"", "storage": {}}


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _quantity(value: Any) -> int:
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(-32602, f"invalid block number {value!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise RpcError(-32602, f"invalid block number {value!r}") from None


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise RpcError(-32602, "invalid block hash")
    return raw
