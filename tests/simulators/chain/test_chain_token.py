"""The USDT-like token through web3 with its committed ABI: deploy, transfer (which returns nothing), reverts
with reasons, Transfer logs by topic, and a reverted transaction mined with status 0."""

import pytest
from chain_harness import CHAIN_ID
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder

from simulators.chain import token

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")


def signed_send(chain, account, tx):
    """Fills nonce/fees/chain id as a payout sender would, signs locally, sends raw, waits for the receipt."""
    w3 = chain.w3
    full = {
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + w3.eth.max_priority_fee,
        "type": 2,
        **tx,
    }
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(full).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5)


def test_startup_token_and_treasury(chain):
    usdt = chain.usdt
    assert usdt.functions.decimals().call() == 6
    assert usdt.functions.symbol().call() == "USDT"
    assert usdt.functions.balanceOf(chain.treasury.address).call() == 1_000_000 * 10**6
    assert usdt.functions.owner().call() == chain.info["token"]["owner"]
    assert chain.info["treasury"]["address"] == chain.treasury.address
    assert chain.w3.eth.get_balance(chain.treasury.address) == Web3.to_wei(1000, "ether")
    # Tether's shape: transfer and transferFrom declare no outputs.
    outputs = {item["name"]: item["outputs"] for item in token.abi() if item["type"] == "function"}
    assert outputs["transfer"] == [] and outputs["transferFrom"] == [] and outputs["approve"] == []


def test_deploy_and_transfer_through_web3(chain):
    w3 = chain.w3
    deployer = chain.new_account()
    factory = w3.eth.contract(abi=token.abi(), bytecode=token.bytecode())
    receipt = signed_send(
        chain, deployer, factory.constructor("Test USD", "TUSD").build_transaction({"gas": 2_000_000})
    )
    assert receipt["status"] == 1 and receipt["contractAddress"]
    mine = w3.eth.contract(address=receipt["contractAddress"], abi=token.abi())
    assert mine.functions.owner().call() == deployer.address
    receipt = signed_send(
        chain, deployer, mine.functions.mint(deployer.address, 500).build_transaction({"gas": 200_000})
    )
    assert receipt["status"] == 1
    receiver = Account.create()
    # The contract transact path of a stock web3: a local signing middleware, then .transact().
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(deployer), layer=0)
    tx_hash = mine.functions.transfer(receiver.address, 200).transact({"from": deployer.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5)
    assert receipt["status"] == 1
    (event,) = mine.events.Transfer().process_receipt(receipt)
    assert (event["args"]["sender"], event["args"]["receiver"], event["args"]["value"]) == (
        deployer.address,
        receiver.address,
        200,
    )
    assert mine.functions.balanceOf(receiver.address).call() == 200
    assert mine.functions.balanceOf(deployer.address).call() == 300


def test_transfer_returns_nothing(chain):
    data = chain.usdt.functions.transfer(Account.create().address, 1)._encode_transaction_data()
    assert chain.w3.eth.call({"from": chain.treasury.address, "to": chain.usdt.address, "data": data}) == b""


def test_insufficient_balance_raises_contract_logic_error_with_reason(chain):
    poor = chain.new_account()
    transfer = chain.usdt.functions.transfer(chain.treasury.address, 1)
    with pytest.raises(ContractLogicError) as caught:
        transfer.call({"from": poor.address})
    assert "insufficient balance" in str(caught.value)
    assert caught.value.data.startswith("0x08c379a0")
    with pytest.raises(ContractLogicError, match="insufficient balance"):
        transfer.estimate_gas({"from": poor.address})
    with pytest.raises(ContractLogicError, match="insufficient balance"):
        transfer.build_transaction({"from": poor.address})  # estimates gas, as a payout sender would


def test_only_the_owner_mints(chain):
    with pytest.raises(ContractLogicError, match="caller is not the owner"):
        chain.usdt.functions.mint(chain.treasury.address, 1).call({"from": chain.treasury.address})


def test_reverted_transaction_with_explicit_gas_is_mined_with_status_0(chain):
    poor = chain.new_account()
    tx = chain.usdt.functions.transfer(chain.treasury.address, 10).build_transaction(
        {"from": poor.address, "gas": 100_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "nonce": 0}
    )
    receipt = signed_send(chain, poor, tx)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert 21_000 < receipt["gasUsed"] <= 100_000


def test_payout_type2_transfer_and_logs_by_topic(chain):
    w3 = chain.w3
    usdt = chain.usdt
    receivers = [Account.create().address for _ in range(3)]
    first_block = w3.eth.block_number + 1
    receipts = []
    for amount, receiver in enumerate(receivers, start=1):
        tx = usdt.functions.transfer(receiver, amount * 10**6).build_transaction({"from": chain.treasury.address})
        receipts.append(signed_send(chain, chain.treasury, tx))
    assert all(r["status"] == 1 and r["type"] == 2 for r in receipts)
    assert all(r["effectiveGasPrice"] <= 2 * 10**9 + 10**9 for r in receipts)
    # The bloom of the block says the log may be there; eth_getLogs with a topic filter finds exactly it.
    block = w3.eth.get_block(receipts[1]["blockNumber"])
    assert block["logsBloom"] == receipts[1]["logsBloom"]
    to_second = "0x" + "00" * 12 + receivers[1][2:].lower()
    logs = w3.eth.get_logs(
        {
            "fromBlock": first_block,
            "toBlock": "latest",
            "address": usdt.address,
            "topics": [TRANSFER_TOPIC, None, to_second],
        }
    )
    assert [log["transactionHash"] for log in logs] == [receipts[1]["transactionHash"]]
    all_transfers = w3.eth.get_logs({"fromBlock": first_block, "address": usdt.address, "topics": [TRANSFER_TOPIC]})
    events = [usdt.events.Transfer().process_log(log)["args"] for log in all_transfers]
    assert [(e["receiver"], e["value"]) for e in events] == [(r, (i + 1) * 10**6) for i, r in enumerate(receivers)]
    by_hash = w3.eth.get_logs({"blockHash": receipts[2]["blockHash"]})
    assert [log["transactionHash"] for log in by_hash] == [receipts[2]["transactionHash"]]
    assert w3.eth.get_logs({"fromBlock": first_block, "topics": [TRANSFER_TOPIC, "0x" + "11" * 32]}) == []
