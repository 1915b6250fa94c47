"""One entry for `fab check` and the release (release/controller.py gives it to the engine): run a phase against an
environment, write its reports, return the run (the caller decides what blocks: the release refuses or rolls
back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks import registry, report
from checks.catalogue import load, share
from checks.context import Context
from checks.runner import Outcome, PhaseRun, run_phase
from foundation.environment import Environment
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout


def run(
    env: Environment,
    db_url: str | None,
    phase: str,
    *,
    repo: Path = REPO_ROOT,
    state: StateLayout | None = None,
    record: dict[str, Any] | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> tuple[PhaseRun, dict[str, Any], tuple[Path, Path]]:
    state = state or StateLayout.default(repo)
    ctx = Context(env, db_url, repo=repo, state=state, record=record)
    items = load(known_checks=set(registry.load()))
    try:
        phase_run = run_phase(ctx, phase, items=items, progress=progress)
    finally:
        ctx.close()
    at = datetime.now(UTC)
    extra = {"release_id": record.get("release_id")} if record else {}
    document = report.as_json(phase_run, share(items), at=at, extra=extra)
    paths = report.write(document, state.checks(env.name))
    return phase_run, document, paths


def progress_line(say: Callable[[str], None]) -> Callable[[Outcome], None]:
    def show(outcome: Outcome) -> None:
        required = " (advisory)" if outcome.item.kind == "automated" and not outcome.required else ""
        say(f"{outcome.item.id} {outcome.result.status}{required}: {outcome.result.detail[:160]}")

    return show
