"""The release as data: what will happen, in which order, on which host — computed before anything is touched,
printed by --dry-run, unit-tested without hosts. The engine executes exactly these steps, one handler per action
(release/steps/), and nothing else: what --dry-run prints is what runs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from foundation.environment import Environment
from foundation.fleet import Deployed
from foundation.sections import LoadTest

CATCH_UP = "catch-up"
PHASES = ("preflight", "build", "stage", "backup", "migrate", "deploy", "verify", "gates", "finish")
WORKER = "worker"  # the recovery worker's program (supervisord) or unit (golive-worker.service)


class Action(StrEnum):
    LOCK = "lock"  # take the environment's release lock (a lease with a fencing token)
    REACH = "reach"  # the host answers over its transport
    DATABASE = "database"  # the database answers; pg_dump's major version is at least the server's
    CHECKS = "checks"  # a phase of the deployment checklist (target: the phase)
    ARTIFACT = "artifact"  # build the artifact once: source + wheelhouse, sha256
    UPLOAD = "upload"  # the artifact onto a host, its checksum verified there
    UNPACK = "unpack"  # into releases/<id>
    INSTALL = "install"  # dependencies from the wheelhouse, offline
    BACKUP = "backup"  # pg_dump -Fc, proven by a restore into a scratch database: on the controller or a db host
    MIGRATE = "migrate"  # alembic upgrade head, verified
    DRAIN = "drain"  # the host out of the balancer
    SWITCH = "switch"  # current -> releases/<id>, atomically
    RESTART = "restart"  # an instance or the worker (target)
    HEALTH = "health"  # the instance answers healthy as the release
    UNDRAIN = "undrain"  # the host back into the balancer
    SMOKE = "smoke"  # health, version, M-Pesa auth, chain, a payment end to end
    OBSERVE = "observe"  # the gates' window
    LOADTEST = "loadtest"  # the go-live load test, held to its SLO
    RESTORE = "restore"  # the release's pre-migration backup over the live database
    PREVIOUS = "previous"  # the host's `previous` link (target: a release id, or none)
    PRUNE = "prune"  # an old release's directory (target)
    UNLOCK = "unlock"  # the release lock released


@dataclass(frozen=True)
class Step:
    action: Action
    host: str | None = None
    target: str | None = None  # an instance name, a release id, a checklist phase …
    detail: str = ""

    def describe(self) -> str:
        where = "/".join(part for part in (self.host, self.target) if part)
        where = f" [{where}]" if where else ""
        return f"{self.action}{where}{': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[Step, ...]
    changes: bool = True  # False: nothing a client sees has changed yet (a failure there refuses the release)


@dataclass(frozen=True)
class Plan:
    # release | rollback | recovery (the rollback of a release that failed) | promote (a held one finished)
    # | catch-up (the hosts behind the fleet's release brought to it)
    kind: str
    env: str
    version: str
    release_id: str
    previous: str | None
    phases: tuple[Phase, ...]
    no_op: bool = False
    notes: tuple[str, ...] = ()  # said after the steps (what happens on a failure, why a step is left out)

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase.steps]

    def describe(self) -> list[str]:
        head = f"{self.kind} {self.version} to {self.env} as {self.release_id}"
        if self.no_op:
            return [head, f"  nothing to do: {self.version} is already deployed ({self.previous})"]
        if self.kind == CATCH_UP:
            head += " (the release the fleet is on)"
        else:
            head += f" (previous: {self.previous})" if self.previous else " (first release)"
        lines = [head]
        for number, phase in enumerate(self.phases, 1):
            lines.append(f"  {number}. {phase.name}")
            lines.extend(f"       {step.describe()}" for step in phase.steps)
        lines.extend(f"  {note}" for note in self.notes)
        return lines


def prunable(releases: tuple[str, ...], keep: int, protected: set[str | None]) -> list[str]:
    """The oldest releases beyond `keep`, never one in `protected` (current, previous, the new one)."""
    excess = max(0, len(releases) - keep)
    return [release for release in releases if release not in protected][:excess]


def _stage_steps(env: Environment, release_id: str, hosts: tuple[str, ...]) -> list[Step]:
    """Everything a host needs before the switch, on every host it is for, before anything changes."""
    steps: list[Step] = []
    for host in hosts:
        if not env.is_local:
            steps.append(Step(Action.UPLOAD, host, detail="artifact"))
        steps.append(Step(Action.UNPACK, host, release_id, "releases/" + release_id))
        steps.append(Step(Action.INSTALL, host, release_id, "dependencies from the wheelhouse, offline"))
    return steps


def _artifact_step(version: str) -> Step:
    return Step(Action.ARTIFACT, detail=f"{version}: source + wheelhouse, sha256")


def _smoke_step() -> Step:
    return Step(Action.SMOKE, detail="health, version, M-Pesa auth, blockchain, a payment end to end")


def _backup_step(env: Environment) -> Step:
    """On the environment's backup_host when it has one (golive-backup, the dump stays there), else by the
    controller: the same program either way (foundation/backups)."""
    return Step(
        Action.BACKUP,
        env.backup_host,
        detail="pg_dump -Fc of a snapshot, proven by a restore into a scratch database (every table's rows counted)",
    )


def _drains(env: Environment, drain: bool) -> bool:
    return drain and env.load_balancer != "none"


def switch_steps(
    env: Environment, release_id: str, *, drain: bool, first: tuple[str, ...] = (), only: tuple[str, ...] | None = None
) -> list[Step]:
    """Every web host (or those in `only`) onto `release_id`, batch by batch. With `drain`, each host out of the
    balancer while it restarts. Hosts in `first` (already out of rotation) go first, each alone: draining another
    host before they are back would take the last one out (the balancer refuses that)."""
    hosts = env.web_hosts if only is None else only
    batches = [(host,) for host in hosts if host in first]
    batches += [
        batch for b in env.batches() if (batch := tuple(host for host in b if host in hosts and host not in first))
    ]
    steps: list[Step] = []
    for number, batch in enumerate(batches, 1):
        for host in batch:
            if _drains(env, drain):
                steps.append(Step(Action.DRAIN, host, detail=f"batch {number}: out of the {env.load_balancer}"))
            steps.append(Step(Action.SWITCH, host, release_id, "current -> releases/" + release_id))
            for instance in env.instances:
                steps.append(Step(Action.RESTART, host, instance.name, f"port {instance.port}"))
                steps.append(Step(Action.HEALTH, host, instance.name, f"/api/health answers as {release_id}"))
            if env.worker:
                steps.append(Step(Action.RESTART, host, WORKER, "the recovery worker (one leader across the hosts)"))
            if _drains(env, drain):
                steps.append(Step(Action.UNDRAIN, host, detail="back into the balancer"))
    return steps


def plan_release(env: Environment, *, version: str, release_id: str, deployed: Deployed) -> Plan:
    """`version` onto every host; the deployed version again: nothing, or the catch-up of the hosts behind it.
    ValueError for another version while hosts are behind (its rollback would have nothing to return them to)."""
    if deployed.behind and deployed.current_version == version:
        return plan_catch_up(env, deployed)
    if deployed.behind:
        raise ValueError(
            f"{_behind(deployed)}: `fab release --env {env.name} --version {deployed.current_version}` brings "
            f"{'it' if len(deployed.behind) == 1 else 'them'} to {deployed.current} first"
        )
    if deployed.current_version == version:
        return Plan("release", env.name, version, release_id, deployed.current, (), no_op=True)
    web = env.web_hosts
    preflight = [Step(Action.LOCK, detail=f"lease for {env.lock_ttl_seconds} s")]
    preflight += [Step(Action.REACH, host) for hosts in env.hosts.values() for host in hosts]
    versions = "" if env.backup_host else "; pg_dump's major version >= the server's"
    preflight += [Step(Action.DATABASE, detail=f"reachable{versions}")]
    preflight += [
        Step(Action.CHECKS, target="pre-deploy", detail="checks/catalogue.yml; a failed required one refuses")
    ]
    keep_protected = {deployed.current, deployed.previous, release_id}
    prune = prunable((*deployed.releases, release_id), env.keep_releases, keep_protected)
    phases = (
        Phase("preflight", tuple(preflight), changes=False),
        Phase("build", (_artifact_step(version),), changes=False),
        Phase("stage", tuple(_stage_steps(env, release_id, web)), changes=False),
        Phase("backup", (_backup_step(env),), changes=False),
        Phase("migrate", (Step(Action.MIGRATE, web[0], release_id, "alembic upgrade head, verified"),)),
        Phase("deploy", tuple(switch_steps(env, release_id, drain=True))),
        Phase(
            "verify",
            (
                _smoke_step(),
                Step(Action.CHECKS, target="post-deploy", detail="a failed required one rolls back"),
            ),
        ),
        Phase("gates", (Step(Action.OBSERVE, detail=_gates_detail(env)), *_loadtest_steps(env))),
        Phase("finish", (*(Step(Action.PRUNE, host, old) for host in web for old in prune), Step(Action.UNLOCK))),
    )
    notes = (_on_failure("on a failure after the migration", deployed.current),)
    return Plan("release", env.name, version, release_id, deployed.current, phases, notes=notes)


def plan_catch_up(env: Environment, deployed: Deployed) -> Plan:
    """The web hosts behind the fleet's release (deployed.behind: replaced or added, or on another release) brought
    to it: staged, switched (drained where the balancer can), restarted and healthy, then the smoke tests. Hosts
    already on it are not touched; no backup, no migration: the database is already the release's."""
    release_id, version = deployed.current, deployed.current_version
    if release_id is None or version is None or not deployed.behind:
        raise ValueError("no host is behind a deployed release: nothing to catch up")
    hosts = tuple(host for host in env.web_hosts if host in deployed.behind)
    preflight = [Step(Action.LOCK, detail=f"lease for {env.lock_ttl_seconds} s")]
    preflight += [Step(Action.REACH, host) for host in hosts]
    phases = (
        Phase("preflight", tuple(preflight), changes=False),
        Phase("build", (_artifact_step(version),), changes=False),
        Phase("stage", tuple(_stage_steps(env, release_id, hosts)), changes=False),
        Phase("deploy", tuple(switch_steps(env, release_id, drain=True, only=hosts))),
        Phase("verify", (_smoke_step(),)),
        Phase("finish", (Step(Action.UNLOCK),)),
    )
    untouched = ", ".join(host for host in env.web_hosts if host not in deployed.behind)
    stays = "stays out of the balancer" if _drains(env, True) else "is left as it is"
    notes = (
        f"{_behind(deployed)}: brought to {release_id}",
        f"{untouched}: on {release_id}, untouched",
        f"on a failure: nothing is rolled back (the fleet's release does not change); the host that failed {stays}",
    )
    return Plan(CATCH_UP, env.name, version, release_id, deployed.previous, phases, notes=notes)


def _behind(deployed: Deployed) -> str:
    """`web2 is behind (no release); web3 is behind (has r2, fleet is on r3)`"""
    return "; ".join(f"{host} is behind ({deployed.lag(host)})" for host in deployed.behind)


def _on_failure(when: str, previous: str | None) -> str:
    if previous is None:
        return f"{when}: no previous release to return to (the instances stay as they are)"
    return (
        f"{when}: every web host back to {previous} (host by host, drained), "
        "the database restored first only where an applied revision is irreversible"
    )


def remainder(plan: Plan, phase: Phase, step: Step) -> tuple[Phase, ...]:
    """What of `plan` is left from `step` of `phase` on, that step included: where a held release resumes."""
    rest = phase.steps[phase.steps.index(step) :]
    return (Phase(phase.name, rest, phase.changes), *plan.phases[plan.phases.index(phase) + 1 :])


def phases_as_data(phases: tuple[Phase, ...]) -> list[dict[str, Any]]:
    """Phases as plain data (a held release's audit record keeps what is left of its plan)."""
    return [
        {"name": phase.name, "changes": phase.changes, "steps": [_step_as_data(step) for step in phase.steps]}
        for phase in phases
    ]


def phases_from_data(data: list[dict[str, Any]]) -> tuple[Phase, ...]:
    """The inverse of phases_as_data; ValueError/KeyError for anything else."""
    return tuple(
        Phase(
            str(phase["name"]),
            tuple(
                Step(Action(step["action"]), step.get("host"), step.get("target"), step.get("detail", ""))
                for step in phase["steps"]
            ),
            bool(phase["changes"]),
        )
        for phase in data
    )


def _step_as_data(step: Step) -> dict[str, Any]:
    return {"action": str(step.action), "host": step.host, "target": step.target, "detail": step.detail}


def plan_promote(
    env: Environment, *, version: str, release_id: str, previous: str | None, resume: tuple[Phase, ...]
) -> Plan:
    """A held release finished: the lock taken again, then what was left of its plan from the step that held it
    (that step runs again: the checks judge the sign-offs given since)."""
    if not resume:
        raise ValueError(f"nothing is left of release {release_id}'s plan to resume")
    lock = Phase("preflight", (Step(Action.LOCK, detail=f"lease for {env.lock_ttl_seconds} s"),), changes=False)
    notes = (_on_failure("on a failure", previous),)
    return Plan("promote", env.name, version, release_id, previous, (lock, *resume), notes=notes)


def plan_rollback(env: Environment, *, deployed: Deployed, to: str | None = None, drain: bool = True) -> Plan:
    """Every web host back to `to` (default: the previous release): the emergency path. With `drain` (and a
    balancer), host by host out of rotation as a release goes, hosts a dead release left out of rotation
    (deployed.drained) first; without it every host is switched at once and then put back into rotation."""
    target = to or deployed.previous
    if target is None:
        raise ValueError("nothing to roll back to: there is no previous release")
    if target not in deployed.releases:
        raise ValueError(f"release {target} is not on the hosts; known: {', '.join(deployed.releases) or 'none'}")
    if target == deployed.current:
        return Plan("rollback", env.name, target, target, deployed.current, (), no_op=True)
    steps = switch_steps(env, target, drain=drain, first=deployed.drained if drain else ())
    if not drain and env.load_balancer != "none":
        # Every host answers as the release now: none stays out of rotation (a release that died mid-deploy may
        # have left one drained); undraining a host in rotation changes nothing.
        steps += [Step(Action.UNDRAIN, host, detail="in the balancer") for host in env.web_hosts]
    phases = (
        Phase("preflight", (Step(Action.LOCK, detail="lease (a crashed release's lock must have expired)"),), False),
        Phase("deploy", tuple(steps)),
        Phase("finish", (Step(Action.UNLOCK),)),
    )
    return Plan("rollback", env.name, target, target, deployed.current, phases)


def plan_recovery(
    env: Environment,
    failed: Plan,
    *,
    prior_previous: str | None,
    switched: bool,
    drained: tuple[str, ...] = (),
    restore: str | None = None,
) -> Plan:
    """After `failed` broke past its first change: the database restored from its pre-migration backup when
    `restore` names it (an applied revision is irreversible), then every web host — not only those switched: a
    failure mid-batch must not leave a split fleet — back to the previous release, drained host by host with the
    hosts this run left out of rotation first; `previous` pointing where it pointed before the release (the switch
    back made the failed release `previous`, and a later `fab rollback` must not return to it)."""
    phases: list[Phase] = []
    notes: list[str] = []
    if restore:
        phases.append(Phase("restore", (Step(Action.RESTORE, target=restore, detail="an irreversible migration"),)))
    if not switched:
        notes.append("no host was switched: nothing to roll back")
    elif failed.previous is None:
        notes.append("first release failed and there is no previous release: instances stopped as they are")
    else:
        steps = switch_steps(env, failed.previous, drain=True, first=drained)
        link = f"-> {prior_previous}" if prior_previous else "none (as before the release)"
        steps += [Step(Action.PREVIOUS, host, prior_previous, link) for host in env.web_hosts]
        phases.append(Phase("rollback", tuple(steps)))
    return Plan(
        "recovery", env.name, failed.version, failed.previous or "-", failed.previous, tuple(phases), notes=tuple(notes)
    )


def _gates_detail(env: Environment) -> str:
    traffic = " with synthetic payments" if env.synthetic_traffic.enabled else ""
    return f"{env.gates.window_seconds:g} s window{traffic}; inconclusive -> {env.inconclusive}"


def _loadtest_steps(env: Environment) -> tuple[Step, ...]:
    """The go-live load test, where the environment requires one (`loadtest: {required: true}`)."""
    if not env.loadtest.required:
        return ()
    spec = env.loadtest
    capped = spec.max_requests != LoadTest.max_requests
    cap = f" or {spec.max_requests} requests, whichever comes first" if capped else ""
    detail = f"{spec.users} users for {spec.duration:g} s{cap} on the entry point; its SLO must pass"
    return (Step(Action.LOADTEST, detail=detail),)
