"""Payouts when things go wrong: a stuck transaction, a crash between storing and sending, an RPC outage,
a treasury short of USDT or gas, a revert, a nonce taken by someone else, a reorganisation, a retry."""

from __future__ import annotations

import time
import uuid

import pytest
from eth_account import Account

from app.payouts import send
from app.payouts.recovery import NothingToRetry, retry_payout
from tests.app.payouts.conftest import TREASURY, usdt_units


def test_a_stuck_transaction_is_replaced_at_the_same_nonce_and_only_the_replacement_pays(make_world):
    world = make_world(payout_stuck_seconds=0.2, payout_confirmations=1)
    payment_id, wallet = world.paid()
    world.control.mining(auto=False)
    world.sweep("start", "send")
    first = world.hashes(payment_id)
    time.sleep(0.3)
    world.sweep("track")

    hashes = world.hashes(payment_id)
    assert len(hashes) == 2 and hashes[0] == first[0]
    pool = world.control.get("txpool")
    assert [tx["hash"] for tx in pool["pending"]] == [hashes[1]]
    assert pool["replaced"][0]["hash"] == first[0]
    world.control.mine(1)
    world.sweep("track", "confirm")
    assert world.state(payment_id) == "completed"
    assert world.payout(payment_id)["tx_hash"] == hashes[1]
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}
    assert any(reason == "payout replaced (stuck)" for _, reason in world.events(payment_id))


def test_a_crash_after_storing_and_before_sending_sends_the_same_bytes_once(make_world, monkeypatch):
    world = make_world(payout_confirmations=1)
    payment_id, wallet = world.paid()

    async def crash(*_args, **_kwargs):
        raise SystemExit("killed between the commit and the send")

    with monkeypatch.context() as patched:
        patched.setattr(send, "send_one", crash)
        world.sweep("start")
        with pytest.raises(SystemExit):
            world.sweep("send")
    assert world.state(payment_id) == "broadcast"
    stored = world.hashes(payment_id)
    assert world.rpc("eth_getTransactionByHash", stored[0]) is None  # never reached the node

    world.sweep("send", "track", "confirm")
    assert world.state(payment_id) == "completed"
    assert world.hashes(payment_id) == stored
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}


def test_an_rpc_outage_while_sending_is_retried_and_never_doubles(make_world):
    world = make_world(payout_confirmations=1)
    payment_id, wallet = world.paid()
    world.control.faults(fail_rate=1, fail_mode="http503", fail_methods=["eth_sendRawTransaction"], fail_count=2)
    world.sweep("start", "send")
    assert world.state(payment_id) == "broadcast"
    assert "503" in world.payout(payment_id)["last_error"]
    world.sweep("send")  # the second injected failure
    world.sweep("send", "track", "confirm")
    assert world.state(payment_id) == "completed"
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}
    assert world.payout(payment_id)["send_failures"] == 0


def test_a_send_whose_answer_is_lost_is_recognised_when_sent_again(make_world):
    """The node took the transaction but the answer never came: the resend hears "already known"."""
    world = make_world(payout_confirmations=1)
    payment_id, wallet = world.paid()
    world.control.mining(auto=False)
    world.sweep("start", "send")
    world.db.execute("UPDATE payout_transactions SET sent_at = NULL")  # as if the answer had been lost
    world.sweep("send")
    world.control.mining(auto=True)
    world.sweep("track", "confirm")
    assert world.state(payment_id) == "completed"
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}


def test_a_treasury_short_of_usdt_makes_payouts_wait_and_says_so(make_world):
    world = make_world(payout_confirmations=1)
    poor = Account.create()
    world.control.fund(poor.address, ether="1", usdt="15")
    world = make_world(payout_confirmations=1, treasury_key=poor.key.hex())
    first, _ = world.paid("usdt-10")
    second, _ = world.paid("usdt-10")
    world.sweep()
    assert world.state(first) == "completed" or world.state(first) == "confirming"
    assert world.state(second) == "payout_pending"
    assert "treasury USDT" in world.payout(second)["waiting_for"]
    from app.payouts.metrics import TREASURY_SHORT  # noqa: PLC0415

    assert TREASURY_SHORT.labels("usdt")._value.get() == 1

    world.control.fund(poor.address, usdt="100")
    world.sweep()
    world.sweep()
    assert world.state(second) == "completed"
    assert world.payout(second)["waiting_for"] is None
    assert TREASURY_SHORT.labels("usdt")._value.get() == 0


def test_a_treasury_without_gas_makes_payouts_wait(make_world):
    world = make_world()
    dry = Account.create()
    world.control.fund(dry.address, usdt="100")
    world = make_world(treasury_key=dry.key.hex())
    payment_id, _ = world.paid()
    world.sweep()
    assert world.state(payment_id) == "payout_pending"
    assert "treasury gas" in world.payout(payment_id)["waiting_for"]


def test_a_transfer_that_fails_when_mined_fails_the_payout_for_a_person(make_world, monkeypatch):
    """A transaction mined with status 0 (here: out of gas, as when an estimate was wrong) pays nothing: the
    payout fails for a person, whatever form the failure took."""
    world = make_world()
    payment_id, _ = world.paid("usdt-10")

    async def too_little_gas(*_args, **_kwargs) -> int:
        return 26_000  # above the intrinsic 21,000, below what the transfer burns

    monkeypatch.setattr(send.chain_reads, "transfer_gas", too_little_gas)
    world.sweep("start", "send", "track")
    assert world.state(payment_id) == "payout_failed"
    assert world.review(payment_id)
    assert "reverted" in world.payout(payment_id)["last_error"]
    assert world.transfers_from_treasury() == {}


def test_a_nonce_taken_by_another_transaction_fails_the_payout_and_a_retry_pays_at_a_new_nonce(make_world):
    world = make_world(payout_confirmations=1)
    payment_id, wallet = world.paid()
    world.control.mining(auto=False)
    world.sweep("start")
    with pytest.raises(SystemExit):
        _sweep_send_without_sending(world)
    nonce = world.payout(payment_id)["nonce"]
    _send_token_from_treasury(world, Account.create().address, 1, nonce_offset=0)  # someone uses our nonce
    world.control.mining(auto=True)
    world.sweep("send", "track")
    assert world.state(payment_id) == "payout_failed"
    assert "did not send" in world.payout(payment_id)["last_error"]

    answer = world.run(_retry(world, payment_id))
    assert "new nonce" in answer
    world.sweep()
    world.sweep()
    assert world.state(payment_id) == "completed"
    assert world.payout(payment_id)["nonce"] != nonce
    assert world.transfers_from_treasury()[wallet.lower()] == usdt_units("10")


def test_a_reorganisation_that_drops_the_receipt_sends_the_payout_again(make_world):
    world = make_world(payout_confirmations=3)
    payment_id, wallet = world.paid()
    snapshot = world.control.post("snapshot")["id"]
    world.sweep("start", "send", "track")
    assert world.state(payment_id) == "confirming"
    world.control.post("revert", {"id": snapshot})  # the block with the payout is gone
    world.control.mine(3)
    world.sweep("confirm")
    assert world.state(payment_id) == "broadcast"
    world.sweep("send", "track")
    world.control.mine(3)
    world.sweep("confirm")
    assert world.state(payment_id) == "completed"
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}


def test_a_completed_payout_cannot_be_retried(make_world):
    world = make_world(payout_confirmations=1)
    payment_id, _ = world.paid()
    world.sweep()
    world.sweep()
    assert world.state(payment_id) == "completed"
    with pytest.raises(NothingToRetry, match="completed"):
        world.run(_retry(world, payment_id))
    with pytest.raises(LookupError):
        world.run(_retry(world, str(uuid.uuid4())))


# --- helpers -------------------------------------------------------------------------------------------------


async def _retry(world, payment_id: str) -> str:
    async with world.pool.connection() as conn:
        return await retry_payout(conn, uuid.UUID(payment_id), actor="ops", reason="checked on the explorer")


def _sweep_send_without_sending(world) -> None:
    original = send.send_one

    async def crash(*_args, **_kwargs):
        raise SystemExit("killed before sending")

    send.send_one = crash
    try:
        world.sweep("send")
    finally:
        send.send_one = original


def _send_token_from_treasury(world, to: str, amount: int, *, nonce_offset: int) -> str:
    """A transfer signed with the treasury's key outside the service (an operator's wallet, say)."""
    from app.payouts.fees import Fees  # noqa: PLC0415
    from app.payouts.signing import sign_transfer  # noqa: PLC0415

    nonce = int(world.rpc("eth_getTransactionCount", TREASURY, "latest"), 16) + nonce_offset
    signed = sign_transfer(
        world.ctx.account,
        chain_id=world.settings.chain_id,
        token=world.settings.token_address,
        to=to,
        amount=amount,
        nonce=nonce,
        gas=100_000,
        fees=Fees(50 * 10**9, 5 * 10**9),
    )
    return world.rpc("eth_sendRawTransaction", "0x" + signed.raw.hex())
