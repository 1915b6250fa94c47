"""The /__chain__ control API: RPC failure and delay switches as web3 sees them, funding, snapshot/revert, the
record of calls, reset."""

import time

import httpx
import pytest
import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers.rpc.utils import ExceptionRetryConfiguration


def bare_web3(chain, retries=None):
    """A stock HTTPProvider; without retries unless asked, so each injected failure reaches the caller."""
    return Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 10}, exception_retry_configuration=retries))


def test_every_call_fails_with_http_503(chain):
    w3 = bare_web3(chain)
    chain.control.faults(fail_rate=1, fail_mode="http503")
    with pytest.raises(requests.HTTPError, match="503"):
        _ = w3.eth.block_number
    chain.control.post("faults/clear")
    assert w3.eth.block_number >= 0


def test_every_call_fails_with_a_json_rpc_error(chain):
    w3 = bare_web3(chain)
    chain.control.faults(fail_rate=1.0, fail_mode="error")
    with pytest.raises(Web3RPCError, match="simulated node failure"):
        w3.eth.get_balance(chain.treasury.address)
    assert chain.control.get("calls", method="eth_getBalance")[-1]["outcome"] == "injected_error"


def test_next_n_calls_fail_then_recover_and_web3_retries_ride_it_out(chain):
    chain.control.faults(fail_rate=1, fail_mode="http503", fail_count=2)
    retrying = bare_web3(
        chain, ExceptionRetryConfiguration(errors=(requests.HTTPError,), retries=5, backoff_factor=0.01)
    )
    assert retrying.eth.block_number >= 0
    outcomes = [c["outcome"] for c in chain.control.get("calls", method="eth_blockNumber")]
    assert outcomes == ["http503", "http503", "ok"]
    assert chain.control.get("faults")["fail_count"] == 0


def test_failures_limited_to_some_methods_and_some_share(chain):
    w3 = bare_web3(chain)
    chain.control.faults(fail_rate=1, fail_methods=["eth_sendRawTransaction"])
    assert w3.eth.chain_id == 31337
    chain.control.faults(fail_rate=0.5, fail_methods=None, fail_mode="error")
    failures = 0
    for _ in range(200):
        try:
            _ = w3.eth.block_number
        except Web3RPCError:
            failures += 1
    assert 50 < failures < 150


def test_rate_limited_answer(chain):
    chain.control.faults(fail_rate=1, fail_mode="http429")
    answer = httpx.post(chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=10)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == -32005


def test_delay_is_observed_by_web3(chain):
    w3 = bare_web3(chain)
    started = time.monotonic()
    _ = w3.eth.block_number
    fast = time.monotonic() - started
    chain.control.faults(delay=0.4, delay_methods=["eth_blockNumber"])
    started = time.monotonic()
    _ = w3.eth.block_number
    assert time.monotonic() - started >= 0.4 > fast
    started = time.monotonic()
    _ = w3.eth.chain_id
    assert time.monotonic() - started < 0.3
    # A client timeout shorter than the delay: the call raises.
    chain.control.faults(delay=1.5, delay_methods=None)
    impatient = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 0.3}, exception_retry_configuration=None))
    with pytest.raises(requests.Timeout):
        _ = impatient.eth.block_number


def test_fault_switches_are_validated(chain):
    for body, key in (
        ({"fail_rate": 2}, "fail_rate"),
        ({"fail_mode": "explode"}, "fail_mode"),
        ({"delay": -1}, "delay"),
        ({"fail_count": -1}, "fail_count"),
        ({"fail_methods": "eth_call"}, "fail_methods"),
        ({"surprise": 1}, "surprise"),
    ):
        assert chain.control.post("faults", body, expect=400)["key"] == key


def test_fund_native_and_usdt(chain):
    w3 = chain.w3
    account = Account.create()
    answer = chain.control.fund(account.address, ether="1.5", usdt="12.345678")
    assert answer["wei"] == 15 * 10**17 and answer["usdt_units"] == 12_345_678
    assert w3.eth.get_balance(account.address) == 15 * 10**17
    assert chain.usdt.functions.balanceOf(account.address).call() == 12_345_678
    chain.control.fund(account.address, wei=5, usdt_units=2)
    assert w3.eth.get_balance(account.address) == 15 * 10**17 + 5
    assert chain.control.post("fund", {"address": "0x12", "wei": 1}, expect=400)["key"] == "address"
    assert chain.control.post("fund", {"address": account.address, "usdt": "0.0000001"}, expect=400)["key"] == "usdt"
    assert chain.control.post("fund", {"address": account.address}, expect=400)["key"] == "body"


def test_funding_leaves_pending_transactions_pending(chain):
    w3 = chain.w3
    chain.control.mining(auto=False)
    tx = {"type": 2, "chainId": 31337, "nonce": w3.eth.get_transaction_count(chain.treasury.address), "gas": 21_000}
    tx.update({"to": chain.treasury.address, "value": 1, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    w3.eth.send_raw_transaction(chain.treasury.sign_transaction(tx).raw_transaction)
    chain.control.fund(Account.create().address, ether="1")
    assert chain.control.get("info")["pending"] == 1


def test_snapshot_and_revert(chain):
    w3 = chain.w3
    snapshot = chain.control.post("snapshot")["id"]
    head = w3.eth.block_number
    receiver = Account.create().address
    chain.control.fund(receiver, ether="1")
    chain.control.mine(5)
    assert chain.control.post("revert", {"id": snapshot}) == {"head": head}
    assert w3.eth.block_number == head
    assert w3.eth.get_balance(receiver) == 0
    chain.control.fund(receiver, ether="2")
    assert w3.eth.get_balance(receiver) == 2 * 10**18
    assert chain.control.post("revert", {"id": "0x" + "00" * 32}, expect=400)["key"] == "id"


def test_calls_are_recorded(chain):
    w3 = bare_web3(chain)
    _ = w3.eth.chain_id
    w3.eth.get_balance(chain.treasury.address)
    calls = chain.control.get("calls")
    assert [c["method"] for c in calls][-2:] == ["eth_chainId", "eth_getBalance"]
    assert all({"seq", "at", "method", "outcome", "code", "ms"} <= set(c) for c in calls)


def test_reset_restores_the_startup_chain(chain):
    info = chain.info
    chain.control.mine(3)
    chain.control.mining(auto=False, block_time=1)
    chain.control.faults(delay=0.1)
    again = chain.control.reset()
    assert again["head"]["number"] == info["head"]["number"]
    assert again["token"]["address"] == info["token"]["address"]
    assert again["mining"] == {"auto": True, "block_time": 0}
    assert chain.control.get("faults")["delay"] == 0
    assert chain.control.get("calls") == []
