"""Payouts end to end against the chain simulator: paid → payout_pending → broadcast → confirming → completed,
with the token's Transfer events on the chain matching the payouts exactly."""

from __future__ import annotations

from tests.app.payouts.conftest import TREASURY, usdt_units


def test_paid_payments_are_paid_out_once_each_and_complete_after_the_confirmations(make_world):
    world = make_world(payout_confirmations=2)
    payments = [world.paid("usdt-10"), world.paid("usdt-5"), world.paid("usdt-50")]

    world.sweep("start", "send", "track")
    assert {world.state(pid) for pid, _ in payments} == {"confirming"}
    world.sweep("confirm")  # every payout's block has at most the later payouts' blocks over it
    world.control.mine(2)
    world.sweep("confirm")

    assert {world.state(pid) for pid, _ in payments} == {"completed"}
    expected = {
        wallet.lower(): usdt_units(amount) for (_, wallet), amount in zip(payments, ["10", "5", "50"], strict=True)
    }
    assert world.transfers_from_treasury() == expected
    first_id, _ = payments[0]
    assert [state for state, _ in world.events(first_id)] == ["payout_pending", "broadcast", "confirming", "completed"]
    payout = world.payout(first_id)
    assert payout["tx_hash"] == world.hashes(first_id)[0] and payout["completed_at"] is not None
    assert payout["sender"].lower() == TREASURY.lower()


def test_the_amount_is_read_in_the_tokens_own_decimals(make_world):
    world = make_world()
    payment_id, _ = world.paid("usdt-100")
    world.sweep("start")
    assert world.run(world.ctx.decimals()) == 6
    assert int(world.payout(payment_id)["amount_units"]) == 100 * 10**6


def test_running_the_steps_again_pays_nothing_twice(make_world):
    world = make_world(payout_confirmations=1)
    payment_id, wallet = world.paid()
    for _ in range(4):
        world.sweep()
    assert world.state(payment_id) == "completed"
    assert world.transfers_from_treasury() == {wallet.lower(): usdt_units("10")}
    assert len(world.hashes(payment_id)) == 1


def test_nonces_come_from_the_database_in_order(make_world):
    world = make_world()
    ids = [world.paid()[0] for _ in range(5)]
    world.control.mining(auto=False)
    world.sweep("start", "send")
    nonces = sorted(world.payout(pid)["nonce"] for pid in ids)
    assert nonces == list(range(nonces[0], nonces[0] + 5))
    stored = world.db.execute("SELECT next_nonce FROM treasury_nonces").fetchone()[0]
    assert stored == nonces[-1] + 1
