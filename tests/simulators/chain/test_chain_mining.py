"""Mining control: stuck transactions with auto-mining off, replacement at the same nonce, mine N, interval
mining, transactions priced under the base fee."""

import time

import pytest
from chain_harness import CHAIN_ID
from eth_account import Account
from web3.exceptions import TransactionNotFound, Web3RPCError


def transfer_tx(chain, nonce, max_fee, tip, gas=100_000):
    tx = chain.usdt.functions.transfer(Account.create().address, 10**6).build_transaction(
        {
            "from": chain.treasury.address,
            "gas": gas,
            "nonce": nonce,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
    )
    return chain.treasury.sign_transaction(tx)


def test_stuck_then_replaced_at_same_nonce_only_replacement_mined(chain):
    w3 = chain.w3
    assert chain.control.mining(auto=False) == {"auto": False, "block_time": 0}
    nonce = w3.eth.get_transaction_count(chain.treasury.address)
    head = w3.eth.block_number

    stuck = transfer_tx(chain, nonce, max_fee=3 * 10**9, tip=10**9)
    stuck_hash = w3.eth.send_raw_transaction(stuck.raw_transaction)
    time.sleep(0.2)
    assert w3.eth.block_number == head
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(stuck_hash)
    pending = w3.eth.get_transaction(stuck_hash)
    assert pending["blockNumber"] is None and pending["nonce"] == nonce
    assert w3.eth.get_transaction_count(chain.treasury.address, "pending") == nonce + 1
    assert w3.eth.get_transaction_count(chain.treasury.address, "latest") == nonce

    # The same transaction again, and a replacement that is not 10 % dearer, are refused as geth refuses them.
    with pytest.raises(Web3RPCError, match="already known"):
        w3.eth.send_raw_transaction(stuck.raw_transaction)
    cheap = transfer_tx(chain, nonce, max_fee=3 * 10**9 + 1, tip=10**9 + 1)
    with pytest.raises(Web3RPCError, match="replacement transaction underpriced"):
        w3.eth.send_raw_transaction(cheap.raw_transaction)

    replacement = transfer_tx(chain, nonce, max_fee=4 * 10**9, tip=2 * 10**9)
    replacement_hash = w3.eth.send_raw_transaction(replacement.raw_transaction)
    pool = chain.control.get("txpool")
    assert [p["hash"] for p in pool["pending"]] == [replacement_hash.to_0x_hex()]
    assert pool["replaced"][0]["hash"] == stuck_hash.to_0x_hex()
    assert pool["replaced"][0]["replacedBy"] == replacement_hash.to_0x_hex()
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction(stuck_hash)  # dropped from the pool, as geth drops a replaced transaction

    mined = chain.control.mine(3)
    assert len(mined["blocks"]) == 3 and mined["pending"] == 0
    receipt = w3.eth.get_transaction_receipt(replacement_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == head + 1
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(stuck_hash)
    for number in range(head + 1, w3.eth.block_number + 1):
        assert stuck_hash not in w3.eth.get_block(number)["transactions"]
    assert w3.eth.get_transaction_count(chain.treasury.address) == nonce + 1


def test_mine_n_blocks(chain):
    head = chain.w3.eth.block_number
    answer = chain.control.mine(25)
    assert answer["head"] == head + 25 == chain.w3.eth.block_number
    timestamps = [chain.w3.eth.get_block(n)["timestamp"] for n in range(head, head + 26)]
    assert timestamps == sorted(set(timestamps))
    assert chain.control.post("mine", {"blocks": 0}, expect=400)["key"] == "blocks"


def test_turning_auto_mining_back_on_mines_what_waits(chain):
    w3 = chain.w3
    chain.control.mining(auto=False)
    nonce = w3.eth.get_transaction_count(chain.treasury.address)
    hashes = [
        w3.eth.send_raw_transaction(transfer_tx(chain, nonce + i, 5 * 10**9, 10**9).raw_transaction) for i in range(3)
    ]
    assert chain.control.get("info")["pending"] == 3
    chain.control.mining(auto=True)
    assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)


def test_nonce_gap_waits_until_filled(chain):
    w3 = chain.w3
    nonce = w3.eth.get_transaction_count(chain.treasury.address)
    later = w3.eth.send_raw_transaction(transfer_tx(chain, nonce + 1, 5 * 10**9, 10**9).raw_transaction)
    time.sleep(0.1)
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(later)
    assert w3.eth.get_transaction_count(chain.treasury.address, "pending") == nonce
    first = w3.eth.send_raw_transaction(transfer_tx(chain, nonce, 5 * 10**9, 10**9).raw_transaction)
    assert w3.eth.get_transaction_receipt(first)["blockNumber"] == w3.eth.get_transaction_receipt(later)["blockNumber"]


def test_fee_cap_under_base_fee_stays_pending_until_bumped(chain):
    w3 = chain.w3
    base_fee = w3.eth.get_block("pending")["baseFeePerGas"]
    low = chain.new_account()
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": 0,
        "to": chain.treasury.address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": base_fee // 100,
        "maxPriorityFeePerGas": 1,
    }
    stuck = w3.eth.send_raw_transaction(low.sign_transaction(tx).raw_transaction)
    chain.control.mine(1)
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(stuck)
    bumped = {**tx, "maxFeePerGas": 4 * base_fee, "maxPriorityFeePerGas": 10**9}
    replacement = w3.eth.send_raw_transaction(low.sign_transaction(bumped).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(replacement, timeout=5)["status"] == 1


def test_interval_mining(chain):
    w3 = chain.w3
    assert chain.control.mining(block_time=0.2) == {"auto": True, "block_time": 0.2}
    nonce = w3.eth.get_transaction_count(chain.treasury.address)
    head = w3.eth.block_number
    sent = w3.eth.send_raw_transaction(transfer_tx(chain, nonce, 5 * 10**9, 10**9).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(sent, timeout=5, poll_latency=0.05)
    assert receipt["status"] == 1
    deadline = time.monotonic() + 10
    while w3.eth.block_number < head + 3:  # empty blocks keep coming
        assert time.monotonic() < deadline, f"no 3 blocks in 10 s of 0.2 s interval mining (head {head})"
        time.sleep(0.05)
    chain.control.mining(auto=False)
    stopped_at = w3.eth.block_number
    time.sleep(0.5)
    assert w3.eth.block_number == stopped_at
