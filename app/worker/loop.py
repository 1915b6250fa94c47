"""The worker's life: wait to become the leader, then run every sweep once per tick while the lease holds.

- A heartbeat renews the lease every TTL/3. When a renewal is refused, or the database stays silent until the
  lease's lifetime (as this process measures it) has run out, the worker stops sweeping at once: the pass in
  progress is cancelled wherever it is (every sweep is safe to interrupt), and it goes back to waiting.
- A sweep that raises is logged and counted; the pass goes on with the next sweep.
- Every loop, leader or not, reads the chain's head once for golive_chain_head_age_seconds (at most
  HEAD_TIMEOUT_SECONDS; a chain that cannot be read is logged when it starts and stops failing, never raised).
- On stop (SIGTERM/SIGINT) the current sweep may finish within the grace period, then the lease is released so
  another worker takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.chain import head
from app.metrics import SWEEP_DURATION, SWEEP_ERRORS, SWEEP_ITEMS, SWEEP_RUNS, WORKER_LEADER, WORKER_LEASE_EVENTS
from app.worker.context import SweepContext
from app.worker.lease import Lease, LeaseLost
from app.worker.lease_timing import heartbeat_interval, still_leader
from app.worker.registry import Sweep
from app.worker.sweeps import census

log = logging.getLogger("golive.worker")
HEAD_TIMEOUT_SECONDS = 2.0


@dataclass
class PassResult:
    handled: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    complete: bool = True


class Worker:
    def __init__(
        self,
        ctx: SweepContext,
        sweeps: list[Sweep],
        *,
        tick: float,
        grace: float,
        report: Callable[..., None] | None = None,
    ):
        """report: told of every sweep that raised (the error tracker): the error, then tags."""
        self.ctx = ctx
        self.lease: Lease = ctx.lease
        self.sweeps = sweeps
        self.tick = tick
        self.grace = grace
        self.stop = asyncio.Event()
        self._pass: asyncio.Task[PassResult] | None = None
        self.report = report
        self._head_failing = False

    # -- one pass -------------------------------------------------------------------------------------------
    async def run_pass(self) -> PassResult:
        result = PassResult()
        for sweep in self.sweeps:
            if self.stop.is_set() or not self.lease.held():
                result.complete = False
                break
            await self._run_sweep(sweep, result)
        return result

    async def _run_sweep(self, sweep: Sweep, result: PassResult) -> None:
        SWEEP_RUNS.labels(sweep.name).inc()
        started = time.perf_counter()
        try:
            handled = await sweep.run(self.ctx.for_sweep(sweep.name))
        except LeaseLost as exc:
            log.warning("sweep stopped: lease lost", extra={"sweep": sweep.name, "error": str(exc)})
            self._lost()
            result.errors[sweep.name] = "lease lost"
            return
        except Exception as exc:
            SWEEP_ERRORS.labels(sweep.name).inc()
            result.errors[sweep.name] = f"{type(exc).__name__}: {exc}"[:300]
            log.exception("sweep failed", extra={"sweep": sweep.name})
            if self.report is not None:
                self.report(exc, sweep=sweep.name)
            return
        finally:
            SWEEP_DURATION.labels(sweep.name).observe(time.perf_counter() - started)
        result.handled[sweep.name] = handled
        SWEEP_ITEMS.labels(sweep.name).inc(handled)

    # -- leadership -----------------------------------------------------------------------------------------
    async def acquire(self) -> bool:
        try:
            acquired = await self.lease.acquire()
        except Exception as exc:
            log.warning("cannot reach the lease", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            return False
        if acquired:
            WORKER_LEADER.set(1)
            WORKER_LEASE_EVENTS.labels("acquired").inc()
            log.info("leader", extra={"holder": self.lease.holder, "fence": self.lease.fence})
        return acquired

    def _lost(self) -> None:
        if self.lease.fence is not None:
            log.warning("lease lost: sweeping stops", extra={"holder": self.lease.holder, "fence": self.lease.fence})
            WORKER_LEASE_EVENTS.labels("lost").inc()
        self.lease.forget()
        WORKER_LEADER.set(0)
        census.clear()
        if self._pass is not None and not self._pass.done() and self._pass is not asyncio.current_task():
            self._pass.cancel()

    async def heartbeat(self) -> None:
        interval = heartbeat_interval(self.lease.ttl)
        while self.lease.fence is not None:
            await asyncio.sleep(interval)
            renewed: bool | None
            try:
                async with asyncio.timeout(max(0.05, self.lease.remaining())):
                    renewed = await self.lease.renew()
            except Exception as exc:
                renewed = None
                log.warning("lease renewal failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            if not still_leader(renewed, time.monotonic(), self.lease.believed_until):
                self._lost()
                return

    async def release(self) -> None:
        try:
            if await self.lease.release():
                WORKER_LEASE_EVENTS.labels("released").inc()
                log.info("lease released", extra={"holder": self.lease.holder})
        except Exception as exc:
            log.warning("lease release failed (it lapses by itself)", extra={"error": type(exc).__name__})
        finally:
            WORKER_LEADER.set(0)
            census.clear()

    # -- runs -----------------------------------------------------------------------------------------------
    async def once(self) -> PassResult | None:
        """One pass of every sweep as the leader; None when another worker holds the lease."""
        if not await self.acquire():
            return None
        heartbeat = asyncio.create_task(self.heartbeat())
        try:
            self._pass = asyncio.create_task(self.run_pass())
            try:
                return await self._pass
            except asyncio.CancelledError:
                if _cancelling():
                    raise
                return PassResult(complete=False, errors={"worker": "lease lost"})
        finally:
            heartbeat.cancel()
            await self.release()

    async def run_forever(self) -> None:
        retry = heartbeat_interval(self.lease.ttl)
        while not self.stop.is_set():
            if await self.acquire():
                await self._lead()
            else:
                await self.chain_head()
                await self._wait(retry)
        log.info("worker stopped", extra={"holder": self.lease.holder})

    async def _lead(self) -> None:
        heartbeat = asyncio.create_task(self.heartbeat())
        try:
            while not self.stop.is_set() and self.lease.held():
                await self.chain_head()
                self._pass = asyncio.create_task(self.run_pass())
                grace = asyncio.create_task(self._cancel_after_stop(self._pass))
                try:
                    await self._pass
                except asyncio.CancelledError:
                    if _cancelling():
                        raise
                    log.warning("pass interrupted", extra={"holder": self.lease.holder})
                finally:
                    grace.cancel()
                await self._wait(self.tick)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self.release()

    async def chain_head(self) -> None:
        """golive_chain_head_age_seconds from one read of the head; never raises (but for cancellation)."""
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_SECONDS):
                await head.refresh(self.ctx.services.rpc)
        except Exception as exc:
            if not self._head_failing:
                log.warning("cannot read the chain's head", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            self._head_failing = True
            return
        if self._head_failing:
            log.info("the chain's head is readable again")
        self._head_failing = False

    async def _cancel_after_stop(self, task: asyncio.Task[PassResult]) -> None:
        await self.stop.wait()
        await asyncio.sleep(self.grace)
        if not task.done():
            log.warning("sweep still running after the grace period: cancelled")
            task.cancel()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


def _cancelling() -> bool:
    """True when the task running this was itself cancelled (as opposed to a pass it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
