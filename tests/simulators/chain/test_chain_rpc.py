"""JSON-RPC as web3 and raw HTTP clients see it: identity, blocks, batches, errors coded as geth codes them."""

import httpx
import pytest
from chain_harness import CHAIN_ID
from web3 import Web3
from web3.exceptions import Web3RPCError


def rpc(url: str, body) -> httpx.Response:
    return httpx.post(url, json=body, timeout=10)


def test_identity(chain):
    w3 = chain.w3
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.net.version == str(CHAIN_ID)
    assert "golive-chain-simulator" in w3.client_version
    assert w3.eth.block_number == chain.info["head"]["number"]


def test_blocks_parse_in_web3_with_real_formats(chain):
    w3 = chain.w3
    latest = w3.eth.get_block("latest", full_transactions=True)
    assert latest["number"] == w3.eth.block_number
    assert len(latest["logsBloom"]) == 256
    assert latest["baseFeePerGas"] > 0
    assert w3.eth.get_block(latest["hash"])["number"] == latest["number"]
    assert w3.eth.get_block(0)["number"] == 0
    raw = rpc(chain.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x1", False]})
    block = raw.json()["result"]
    assert block["logsBloom"].startswith("0x") and len(block["logsBloom"]) == 2 + 512
    assert (
        rpc(
            chain.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0xffff", False]}
        ).json()["result"]
        is None
    )


def test_batch_answers_each_call_by_id(chain):
    answer = rpc(
        chain.url,
        [
            {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": "b", "method": "eth_nope"},
            {"jsonrpc": "2.0", "id": 9, "method": "eth_getBalance", "params": ["0x12"]},
            {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # a notification: no answer
        ],
    ).json()
    by_id = {item["id"]: item for item in answer}
    assert set(by_id) == {7, "b", 9}
    assert by_id[7]["result"] == hex(CHAIN_ID)
    assert by_id["b"]["error"]["code"] == -32601
    assert by_id[9]["error"]["code"] == -32602


def test_protocol_errors(chain):
    parse = httpx.post(chain.url, content=b"{not json", timeout=10).json()
    assert parse["error"]["code"] == -32700
    assert rpc(chain.url, []).json()["error"]["code"] == -32600
    assert rpc(chain.url, {"id": 1, "method": "eth_chainId"}).json()["error"]["code"] == -32600
    assert httpx.get(chain.url, timeout=10).status_code == 405


def test_fee_suggestions(chain):
    w3 = chain.w3
    assert w3.eth.max_priority_fee == 10**9
    assert w3.eth.gas_price > w3.eth.get_block("latest")["baseFeePerGas"] // 2
    history = w3.eth.fee_history(2, "latest", [10, 90])
    assert len(history["baseFeePerGas"]) == 3
    assert len(history["gasUsedRatio"]) == 2
    assert len(history["reward"]) == 2 and len(history["reward"][0]) == 2


def test_transaction_pool_rejections_are_geth_errors(chain):
    w3 = chain.w3
    sender = chain.new_account()
    base = {
        "type": 2,
        "chainId": CHAIN_ID,
        "to": sender.address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
    }
    sent = w3.eth.send_raw_transaction(sender.sign_transaction({**base, "nonce": 0}).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent, timeout=5)["status"] == 1
    cases = [
        ({**base, "nonce": 0}, "nonce too low"),
        ({**base, "nonce": 1, "chainId": 1}, "invalid chain id"),
        ({**base, "nonce": 1, "gas": 20_000}, "intrinsic gas too low"),
        ({**base, "nonce": 1, "value": 10**30}, "insufficient funds for gas * price + value"),
        ({**base, "nonce": 1, "maxPriorityFeePerGas": 10**11}, "max priority fee per gas higher than max fee"),
    ]
    for tx, message in cases:
        with pytest.raises(Web3RPCError) as caught:
            w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        assert caught.value.rpc_response["error"]["code"] == -32000
        assert message in caught.value.rpc_response["error"]["message"]


def test_node_holds_no_keys(chain):
    assert chain.w3.eth.accounts == []
    with pytest.raises(Web3RPCError, match="unknown account"):
        chain.w3.eth.send_transaction({"from": chain.treasury.address, "to": chain.treasury.address, "value": 1})


def test_state_reads_at_past_blocks(chain):
    w3 = chain.w3
    account = chain.new_account(ether="1")
    funded_at = w3.eth.block_number
    chain.control.fund(account.address, ether="2")
    assert w3.eth.get_balance(account.address) == Web3.to_wei(3, "ether")
    assert w3.eth.get_balance(account.address, funded_at) == Web3.to_wei(1, "ether")
    assert w3.eth.get_balance(account.address, funded_at - 1) == 0
    with pytest.raises(Web3RPCError, match="header not found"):
        w3.eth.get_balance(account.address, funded_at + 100)
