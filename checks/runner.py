"""Runs a phase of the catalogue against an environment: automated checks (each distinct check once per
run, rate limiting last since it spends the client's allowance), manual boxes looked up in the sign-offs.
Pure verdict logic (which results block) is separate from running, for the tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.contract import redact_text
from checks import registry, signoffs
from checks.catalogue import Item, for_phase, load
from checks.context import Context
from checks.model import Result, Status, needs_signoff, not_applicable
from checks.signoffs import Signoff

RUN_LAST = ("http.rate_limit",)


@dataclass(frozen=True)
class Outcome:
    item: Item
    result: Result
    required: bool  # as this environment treats it (catalogue, minus the environment's advisory list)
    seconds: float = 0.0


@dataclass(frozen=True)
class PhaseRun:
    env: str
    phase: str
    outcomes: list[Outcome]
    unverified_policy: str  # fail | warn
    unsigned_policy: str = "warn"  # fail: a person's box not signed blocks too

    def with_status(self, status: Status, required: bool | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.result.status == status and (required is None or o.required == required)]

    @property
    def failed(self) -> list[Outcome]:
        return self.with_status(Status.FAIL, required=True)

    @property
    def unverified(self) -> list[Outcome]:
        return self.with_status(Status.UNVERIFIED, required=True)

    @property
    def blocking(self) -> list[Outcome]:
        """What stops a release and makes `fab check` exit non-zero."""
        unsigned = self.with_status(Status.NEEDS_SIGNOFF) if self.unsigned_policy == "fail" else []
        return self.failed + (self.unverified if self.unverified_policy == "fail" else []) + unsigned

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[str(outcome.result.status)] = counts.get(str(outcome.result.status), 0) + 1
        return counts

    def record(self) -> dict[str, Any]:
        """For the release's audit record: counts and the ids that matter, no evidence text."""
        return {
            "counts": self.counts(),
            "failed": [o.item.id for o in self.with_status(Status.FAIL)],
            "unverified": [o.item.id for o in self.with_status(Status.UNVERIFIED)],
            "needs_signoff": [o.item.id for o in self.with_status(Status.NEEDS_SIGNOFF)],
            "signed_off": {o.item.id: o.result.detail for o in self.with_status(Status.SIGNED_OFF)},
            "blocking": [o.item.id for o in self.blocking],
        }


def is_required(item: Item, advisory: list[str]) -> bool:
    return item.required and item.id not in advisory and (item.check or "") not in advisory


def manual_result(
    item: Item, env: str, signed: Signoff | None, release: dict[str, Any] | None, now: datetime
) -> Result:
    """A person's box: signed off when a standing sign-off covers `release` (the release record under check) and
    has not expired at `now`; otherwise it needs one, and says why the standing one does not count."""
    why_not = signed.why_not(release, now) if signed is not None else None
    if signed is not None and why_not is None:
        return Result(Status.SIGNED_OFF, signed.describe(), "fab signoff", signed.by)
    stale = f"{signed.by}'s sign-off does not count ({why_not}); " if signed is not None else ""
    for_release = f" --release {release['release_id']}" if release and release.get("release_id") else ""
    signer = item.signoff or "a person"
    return needs_signoff(f"{stale}{signer} signs: fab signoff --env {env} --item {item.id}{for_release} --by NAME")


def _order(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda item: item.check in RUN_LAST)


def run_phase(
    ctx: Context,
    phase: str,
    *,
    items: list[Item] | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> PhaseRun:
    checks = registry.load()
    chosen = for_phase(items if items is not None else load(known_checks=set(checks)), phase)
    standing = signoffs.latest(ctx.audit)
    release = ctx.release_under_check()
    advisory = list(ctx.config["advisory"])
    done: dict[str, tuple[Result, float]] = {}
    outcomes: dict[str, Outcome] = {}
    for item in _order(chosen):
        started = time.monotonic()
        if item.not_applicable:
            result = not_applicable(item.not_applicable)
        elif item.check is None:
            result = manual_result(item, ctx.env.name, standing.get(item.id), release, ctx.now)
        else:
            key = f"{item.check} {json.dumps(item.args, sort_keys=True)}"
            if key not in done:
                done[key] = (_run_one(checks[item.check], ctx, item.args), time.monotonic() - started)
            result = done[key][0]
            if result.status == Status.NEEDS_SIGNOFF:
                result = _signed(result, item, ctx, standing.get(item.id), release)
        required = item.check is not None and is_required(item, advisory)  # a person's box never blocks a run
        outcome = Outcome(item, result, required, time.monotonic() - started)
        outcomes[item.id] = outcome
        if progress:
            progress(outcome)
    ordered = [outcomes[item.id] for item in chosen]
    return PhaseRun(ctx.env.name, phase, ordered, ctx.config["unverified"], ctx.config["unsigned"])


def _signed(result: Result, item: Item, ctx: Context, signed: Signoff | None, release: dict[str, Any] | None) -> Result:
    """An automated check that asks a person (no simulator to pay through): their sign-off, when it counts."""
    if signed is None:
        return result
    judged = manual_result(item, ctx.env.name, signed, release, ctx.now)
    return (
        judged
        if judged.status == Status.SIGNED_OFF
        else Result(Status.NEEDS_SIGNOFF, f"{result.detail}; {judged.detail}")
    )


def _run_one(function: registry.CheckFunction, ctx: Context, args: dict[str, Any]) -> Result:
    try:
        return function(ctx, args)
    except Exception as exc:  # a check that breaks has not shown the box is done: a failure, said plainly
        return Result(Status.FAIL, f"the check itself failed: {type(exc).__name__}: {redact_text(str(exc))[:300]}")
