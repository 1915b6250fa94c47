"""One run of a plan: what it learned (the audit record, never a secret) and what it holds (the lease, the artifact,
the backup, which hosts it switched or took out of the balancer), and how a step tells the engine to stop."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg

from foundation.backups.strategy import Backups
from foundation.backups.taken import Taken
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.reporter import Reporter
from foundation.state import StateLayout
from foundation.transport import Transport
from release import balancers, lock
from release.build.artifact import Artifact
from release.plan import Phase, Plan, Step

# A phase of the deployment checklist against the release being made (`record`): its summary for the audit
# record, and the ids of the boxes that block. Given to the engine by the controller (checks/ sits beside it).
RunChecks = Callable[[str, dict[str, Any]], tuple[dict[str, Any], list[str]]]


class StepContext(Protocol):
    """What a step's handler (release/steps/) may use of the engine running it."""

    env: Environment
    db_url: str
    reporter: Reporter
    repo: Path
    owner: str
    state: StateLayout
    fleet: Fleet
    run_checks: RunChecks

    def connect(self) -> psycopg.Connection: ...

    def transport(self, step: Step) -> Transport: ...

    def balancer(self) -> balancers.Balancer: ...

    def backups(self) -> Backups: ...

    def unlock(self, run: Run) -> None: ...


class GateFailed(Exception):
    pass


class GateHeld(Exception):
    """The release stays deployed and waits for a person (exit 3); `fab promote` resumes it from this step."""


class SignoffHeld(GateHeld):
    """A phase after the switch whose only open boxes are a person's: held for their sign-off, not rolled back."""

    def __init__(self, phase: str, items: list[str]):
        super().__init__(f"held for sign-off: {phase} boxes {', '.join(items)} are not signed")
        self.items = items


class ChecksFailed(Exception):
    """A required check of the deployment checklist failed (checks/)."""


def controller_identity() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass
class Run:
    plan: Plan  # what the run is for (a release, a rollback)
    executing: Plan  # whose steps run now: the plan, or the recovery after it failed
    record: dict[str, Any] = field(default_factory=dict)
    switched: list[str] = field(default_factory=list)  # hosts now on the new release
    drained: list[str] = field(default_factory=list)  # hosts this run took out of the balancer, not yet back
    lease: lock.Lease | None = None
    heartbeat: lock.Heartbeat | None = None
    prior_previous: str | None = None  # the `previous` link before this release (kept by a recovery)
    artifact: Artifact | None = None
    backup: Taken | None = None  # the release's proven pre-migration backup
    phase: Phase | None = None  # the phase running now
    step: Step | None = None  # the step running now (where a hold resumes)

    @classmethod
    def of(cls, plan: Plan, record: dict[str, Any], prior_previous: str | None = None) -> Run:
        return cls(plan, plan, record, prior_previous=prior_previous)
