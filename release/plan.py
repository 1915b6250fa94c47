"""The release as data: what will happen, in which order, on which host — computed before anything is
touched, printed by --dry-run, unit-tested without hosts. The engine only executes it."""

from __future__ import annotations

from dataclasses import dataclass

from foundation.environment import Environment
from foundation.fleet import Deployed

PHASES = ("preflight", "build", "stage", "backup", "migrate", "deploy", "verify", "gates", "finish")


@dataclass(frozen=True)
class Step:
    action: str
    host: str | None = None
    target: str | None = None  # an instance name, a release id …
    detail: str = ""

    def describe(self) -> str:
        where = f" [{self.host}{'/' + self.target if self.target else ''}]" if self.host else ""
        return f"{self.action}{where}{': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Plan:
    kind: str  # release | rollback
    env: str
    version: str
    release_id: str
    previous: str | None
    phases: tuple[Phase, ...]
    no_op: bool = False

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase.steps]

    def describe(self) -> list[str]:
        head = f"{self.kind} {self.version} to {self.env} as {self.release_id}"
        if self.no_op:
            return [head, f"  nothing to do: {self.version} is already deployed ({self.previous})"]
        lines = [head + (f" (previous: {self.previous})" if self.previous else " (first release)")]
        for number, phase in enumerate(self.phases, 1):
            lines.append(f"  {number}. {phase.name}")
            lines.extend(f"       {step.describe()}" for step in phase.steps)
        return lines


def prunable(releases: tuple[str, ...], keep: int, protected: set[str | None]) -> list[str]:
    """The oldest releases beyond `keep`, never one in `protected` (current, previous, the new one)."""
    excess = max(0, len(releases) - keep)
    return [release for release in releases if release not in protected][:excess]


def _stage_steps(env: Environment, release_id: str) -> list[Step]:
    """Everything a host needs before the switch, on every host, before anything changes."""
    steps: list[Step] = []
    for host in env.web_hosts:
        if not env.is_local:
            steps.append(Step("upload", host, detail="artifact"))
        steps.append(Step("unpack", host, release_id, "releases/" + release_id))
        steps.append(Step("install", host, release_id, "dependencies from the wheelhouse, offline"))
    return steps


WORKER = "worker"  # the recovery worker's program (supervisord) or unit (golive-worker.service)


def switch_steps(env: Environment, release_id: str, *, drain: bool) -> list[Step]:
    steps: list[Step] = []
    for number, batch in enumerate(env.batches(), 1):
        for host in batch:
            if drain and env.load_balancer != "none":
                steps.append(Step("drain", host, detail=f"batch {number}: out of the {env.load_balancer}"))
            steps.append(Step("switch", host, release_id, "current -> releases/" + release_id))
            for instance in env.instances:
                steps.append(Step("restart", host, instance.name, f"port {instance.port}"))
                steps.append(Step("health", host, instance.name, f"/api/health answers as {release_id}"))
            if env.worker:
                steps.append(Step("restart", host, WORKER, "the recovery worker (one leader across the hosts)"))
            if drain and env.load_balancer != "none":
                steps.append(Step("undrain", host, detail="back into the balancer"))
    return steps


def plan_release(env: Environment, *, version: str, release_id: str, deployed: Deployed) -> Plan:
    if deployed.current_version == version:
        return Plan("release", env.name, version, release_id, deployed.current, (), no_op=True)
    web = env.web_hosts
    migrate_on = web[0]
    preflight = [Step("lock", detail=f"lease for {env.lock_ttl_seconds} s")]
    preflight += [Step("reach", host) for hosts in env.hosts.values() for host in hosts]
    preflight += [Step("database", detail="reachable; pg_dump's major version >= the server's")]
    preflight += [Step("checks", detail="pre-deploy checks (checks/catalogue.yml); a failed required one refuses")]
    keep_protected = {deployed.current, deployed.previous, release_id}
    prune = prunable((*deployed.releases, release_id), env.keep_releases, keep_protected)
    phases = (
        Phase("preflight", tuple(preflight)),
        Phase("build", (Step("artifact", detail=f"{version}: source + wheelhouse, sha256"),)),
        Phase("stage", tuple(_stage_steps(env, release_id))),
        Phase(
            "backup",
            (
                Step("backup", detail="pg_dump -Fc + checksum"),
                Step("prove", detail="restore into a scratch database, compare row counts"),
            ),
        ),
        Phase("migrate", (Step("migrate", migrate_on, release_id, "alembic upgrade head, verified"),)),
        Phase("deploy", tuple(switch_steps(env, release_id, drain=True))),
        Phase(
            "verify",
            (
                Step("smoke", detail="health, version, M-Pesa auth, a payment end to end"),
                Step("checks", detail="post-deploy checks (checks/catalogue.yml); a failed required one rolls back"),
            ),
        ),
        Phase("gates", (Step("observe", detail=_gates_detail(env)), *_loadtest_steps(env))),
        Phase("finish", (*(Step("prune", host, old) for host in web for old in prune), Step("unlock"))),
    )
    return Plan("release", env.name, version, release_id, deployed.current, phases)


def plan_rollback(env: Environment, *, deployed: Deployed, to: str | None = None) -> Plan:
    """Every host back to `to` (default: the previous release), all batches at once: it must be fast."""
    target = to or deployed.previous
    if target is None:
        raise ValueError("nothing to roll back to: there is no previous release")
    if target not in deployed.releases:
        raise ValueError(f"release {target} is not on the hosts; known: {', '.join(deployed.releases) or 'none'}")
    if target == deployed.current:
        return Plan("rollback", env.name, target, target, deployed.current, (), no_op=True)
    # No draining: a rollback is the emergency path and the release being left is the broken one.
    steps = switch_steps(env, target, drain=False)
    phases = (
        Phase("preflight", (Step("lock", detail="lease (a held lock from a crashed release must have expired)"),)),
        Phase("deploy", tuple(steps)),
        Phase("finish", (Step("unlock"),)),
    )
    return Plan("rollback", env.name, target, target, deployed.current, phases)


def _gates_detail(env: Environment) -> str:
    window = env.gates.window_seconds
    traffic = " with synthetic payments" if env.synthetic_traffic.enabled else ""
    return f"{window} s window{traffic}; inconclusive -> {env.inconclusive}"


def _loadtest_steps(env: Environment) -> tuple[Step, ...]:
    """The go-live load test, where the environment requires one (`loadtest: {required: true}`)."""
    if not env.loadtest.required:
        return ()
    users, duration = env.loadtest.users, env.loadtest.duration
    return (Step("loadtest", detail=f"{users} users for {duration:g} s on the entry point; its SLO must pass"),)
