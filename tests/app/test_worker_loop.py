"""The worker's loop in-process on the real database: a failing sweep is logged and counted and the pass goes on;
a worker whose lease is taken stops the sweep in progress at once."""

from __future__ import annotations

import asyncio
import time

import psycopg
from prometheus_client import REGISTRY

from app.worker.context import SweepContext
from app.worker.loop import Worker
from app.worker.registry import resolve
from tests.support.worker import with_leader, worker_settings


def _sweeps(*names: str):
    return resolve([(name, f"tests.support.sweeps:{name}") for name in names])


def _errors(sweep: str) -> float:
    return REGISTRY.get_sample_value("golive_worker_sweep_errors_total", {"sweep": sweep}) or 0.0


def test_a_failing_sweep_is_counted_and_the_pass_goes_on(db_url, simulator, state_dir):
    settings = worker_settings(db_url, simulator.url, state_dir)
    before = _errors("boom")

    async def one_pass(ctx: SweepContext):
        return await Worker(ctx, _sweeps("boom", "seven"), tick=1, grace=1).run_pass()

    result = asyncio.run(with_leader(settings, one_pass))
    assert result.handled == {"seven": 7}
    assert result.errors == {"boom": "RuntimeError: boom"}
    assert _errors("boom") == before + 1


def test_a_worker_whose_lease_is_taken_stops_the_sweep_in_progress(db_url, simulator, state_dir):
    settings = worker_settings(db_url, simulator.url, state_dir)

    async def scenario(ctx: SweepContext):
        ctx.lease.ttl = 1.5  # heartbeat every 0.5 s
        worker = Worker(ctx, _sweeps("slow"), tick=1, grace=1)
        lead = asyncio.create_task(worker._lead())
        await asyncio.sleep(0.3)
        with psycopg.connect(db_url, autocommit=True) as conn:  # another worker takes the lease
            conn.execute(
                "UPDATE worker_leases SET holder = 'thief', fence = fence + 1 WHERE role = %s", (ctx.lease.role,)
            )
        started = time.monotonic()
        await asyncio.wait_for(lead, 5)
        return time.monotonic() - started, ctx.lease.held()

    stopped_after, held = asyncio.run(with_leader(settings, scenario))
    assert not held
    assert stopped_after < 1.5  # the 30-second sweep was cancelled at the next heartbeat
