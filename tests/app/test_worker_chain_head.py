"""The worker reads the chain's head every loop (golive_chain_head_age_seconds), leader or not, and a chain that
cannot be read neither stops the loop nor freezes the gauge."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from app.chain.metrics import CHAIN_HEAD_AGE
from app.worker.context import SweepContext
from app.worker.lease import Lease
from app.worker.loop import Worker
from app.worker.registry import resolve
from tests.support.worker import with_leader, worker_settings

HEAD_AGE = "golive_chain_head_age_seconds"


def _age() -> float:
    return REGISTRY.get_sample_value(HEAD_AGE) or 0.0


def _runs() -> float:
    return REGISTRY.get_sample_value("golive_worker_sweep_runs_total", {"sweep": "seven"}) or 0.0


async def _until(check, seconds: float = 60.0) -> None:
    """Until `check()` holds: a condition, never a speed (the deadline only catches a worker that stopped)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_the_worker_sets_the_head_age_every_loop_and_survives_a_broken_chain(
    db_url, simulator, state_dir, chain_url, control
):
    settings = worker_settings(db_url, simulator.url, state_dir, chain_rpc_url=chain_url)
    seen: dict[str, float] = {}
    unset = -1.0

    async def scenario(ctx: SweepContext) -> None:
        # The gauge is the process's: an earlier test (the health endpoint) may have left a head minutes old on it.
        CHAIN_HEAD_AGE.set(unset)
        worker = Worker(ctx, resolve([("seven", "tests.support.sweeps:seven")]), tick=0.1, grace=1)
        lead = asyncio.create_task(worker._lead())
        try:
            # A head of now (the session's chain may have been reset to a startup state made minutes ago), and no
            # block after it but the ones this test mines (a transaction from anything else waits in the pool).
            control.mining(auto=False)
            control.mine(1)
            await _until(lambda: _age() >= 0.5)
            seen["stale"] = _age()
            # Waited for, not slept on: on a loaded machine a loop can take longer than a fixed sleep.
            await _until(lambda: _age() >= seen["stale"] + 1)
            seen["older"] = _age()

            control.faults(fail_rate=1, fail_mode="http503")
            runs = _runs()
            await _until(lambda: _runs() - runs >= 2 and _age() >= seen["older"] + 0.5)
            seen["broken"], seen["runs while broken"] = _age(), _runs() - runs
            assert not lead.done()
            control.faults(fail_rate=0)

            # The new head is at most a second (timestamps are whole seconds) older than the time since it was mined;
            # the old one at least seen["broken"] (>= 2 s) older than that, however late the loop reads it.
            mined_at = time.monotonic()
            control.mine(1)
            await _until(lambda: _age() < time.monotonic() - mined_at + 1.5)
            seen["mined"], seen["since mined"] = _age(), time.monotonic() - mined_at
        finally:
            worker.stop.set()
            await asyncio.wait_for(lead, 10)

    asyncio.run(with_leader(settings, scenario))

    assert seen["stale"] < 60
    assert seen["older"] >= seen["stale"] + 1
    assert seen["broken"] >= seen["older"] + 0.5  # still growing while the chain cannot be read
    assert seen["runs while broken"] >= 2  # and the passes went on
    assert seen["mined"] < seen["broken"] + seen["since mined"]  # younger than the old head is by now


def test_a_worker_that_is_not_the_leader_reads_the_head_too(db_url, simulator, state_dir, chain_url, control):
    settings = worker_settings(db_url, simulator.url, state_dir, chain_rpc_url=chain_url)
    unset = -1.0

    async def scenario(ctx: SweepContext) -> tuple[float, bool]:
        CHAIN_HEAD_AGE.set(unset)
        # The lease's role is held by "test" (with_leader): this worker waits, looping, for its turn.
        lease = Lease(ctx.pool, holder="follower", ttl=30, role=ctx.lease.role)
        follower = Worker(SweepContext(ctx.services, lease), [], tick=0.1, grace=1)
        runner = asyncio.create_task(follower.run_forever())
        try:
            await _until(lambda: _age() != unset)
            return _age(), lease.held()
        finally:
            follower.stop.set()
            await asyncio.wait_for(runner, 10)

    age, leader = asyncio.run(with_leader(settings, scenario))
    assert not leader
    assert 0 <= age < 60
