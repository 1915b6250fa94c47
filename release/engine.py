"""Executes a plan (release.plan) phase by phase: thin, because every decision is in the plan.

Exit codes: 0 released (or nothing to do), 1 rolled back, 2 refused before any change, 3 held for a person.
After the first switch, any failure returns the whole fleet to the previous release — never a fleet
split across versions. Every run that took the lock leaves a record in the hash-chained audit log.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from app.contract import redact_text, register_secret
from checks import phases as check_phases
from foundation import host_commands
from foundation.audit import AuditLog
from foundation.backups import dumps as backups
from foundation.environment import REPO_ROOT, Environment
from foundation.fleet import Deployed, Fleet, artifact_on_host
from foundation.host_commands import q
from foundation.metrics import gates
from foundation.reporter import Reporter
from release import balancers, lock, smoke
from release.backups import strategy as backup_strategy
from release.backups.taken import Taken
from release.build import artifact as artifacts
from release.build import migrations as migrations_info
from release.gates import loadtest as loadtest_gate
from release.gates import sources as gate_sources
from release.gates.synthetic import synthetic_payments
from release.plan import Plan, Step, plan_release, plan_rollback, switch_steps


class Outcome(IntEnum):
    RELEASED = 0
    ROLLED_BACK = 1
    REFUSED = 2
    HELD = 3


class Refused(Exception):
    """Stopped before anything changed."""


class GateFailed(Exception):
    pass


class GateHeld(Exception):
    pass


class ChecksFailed(Exception):
    """A required check of the deployment checklist failed (checks/)."""


def controller_identity() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass
class Run:
    """What one run learned, for the audit record (never a secret)."""

    record: dict[str, Any] = field(default_factory=dict)
    switched: list[str] = field(default_factory=list)  # hosts now on the new release
    lease: lock.Lease | None = None
    heartbeat: lock.Heartbeat | None = None
    prior_previous: str | None = None  # the `previous` link before this release (restored by a rollback)
    artifact: Path | None = None
    backup: Taken | None = None


class Engine:
    def __init__(
        self,
        env: Environment,
        db_url: str,
        *,
        reporter: Reporter | None = None,
        repo: Path = REPO_ROOT,
        owner: str | None = None,
        state_dir: Path | None = None,
    ):
        self.env = env
        self.db_url = db_url
        self.reporter = reporter or Reporter()
        self.repo = repo
        self.owner = owner or controller_identity()
        self.state = state_dir or Path(os.environ.get("GOLIVE_RELEASE_STATE", repo / "state"))
        self.fleet = Fleet.of(env)
        self._balancer: balancers.Balancer | None = None
        self._drained: list[str] = []  # hosts this run took out of the balancer and has not put back yet
        self.audit = AuditLog(self.state / env.name / "audit.jsonl")
        password = urlsplit(db_url).password
        if password:
            register_secret(password)

    # -- entry points -------------------------------------------------------------------------------
    def plan(self, ref: str | None, deployed: Deployed | None = None) -> tuple[Plan, artifacts.ResolvedVersion]:
        resolved = artifacts.resolve_version(self.repo, ref)
        release_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{resolved.version}"
        deployed = deployed or self.fleet.deployed()
        plan = plan_release(self.env, version=resolved.version, release_id=release_id, deployed=deployed)
        if plan.no_op and deployed.current and (lagging := self.fleet.not_serving(deployed.current)):
            # `current` names this version but the fleet does not run it (a release that died mid-deploy):
            # not a no-op, release it again so that every instance ends on one release.
            self.reporter.warn(
                f"{resolved.version} is current ({deployed.current}) but {', '.join(lagging)} "
                "do not answer as it: releasing it again"
            )
            plan = plan_release(
                self.env,
                version=resolved.version,
                release_id=release_id,
                deployed=replace(deployed, current_version=None),
            )
        return plan, resolved

    def release(self, ref: str | None, *, dry_run: bool = False) -> Outcome:
        try:
            deployed = self.fleet.deployed()
            plan, resolved = self.plan(ref, deployed)
        except Exception as exc:  # nothing has changed yet: every failure here is a refusal
            self.reporter.error(f"refused: {exc}")
            return Outcome.REFUSED
        for line in plan.describe():
            self.reporter.line(line)
        if dry_run or plan.no_op:
            return Outcome.RELEASED
        run = Run(
            record={
                "kind": "release",
                "env": self.env.name,
                "by": self.owner,
                "version": plan.version,
                "git_sha": resolved.git_sha,
                "dirty": resolved.dirty,
                "release_id": plan.release_id,
                "previous": plan.previous,
            },
            prior_previous=deployed.previous,
        )
        return self._execute(plan, run)

    def rollback(self, to: str | None = None, *, reason: str = "requested", drain: bool = True) -> Outcome:
        """Every web host to the previous release (or `to`). With `drain` (the default) host by host out of the
        balancer, as a release goes, so no request meets a restarting instance; without it every host is switched
        at once and then put back into rotation (when the balancer itself cannot be driven)."""
        try:
            # A split fleet (a release that died mid-deploy) is what --to is for: every host to that release.
            deployed = self.fleet.deployed(split_ok=to is not None)
            plan = plan_rollback(self.env, deployed=deployed, to=to)
        except Exception as exc:
            self.reporter.error(f"refused: {exc}")
            return Outcome.REFUSED
        if plan.no_op:
            self.reporter.line(f"{plan.version} is already current")
            return Outcome.RELEASED
        run = Run(
            record={
                "kind": "rollback",
                "env": self.env.name,
                "by": self.owner,
                "release_id": plan.release_id,
                "from": deployed.current,
                "reason": reason,
                "drained": drain and self.env.load_balancer != "none",
            }
        )
        try:
            with self.reporter.phase("preflight"), self.reporter.step("lock"):
                self._lock(run, "rollback")
            with self.reporter.phase("deploy"):
                if run.record["drained"]:
                    self._rollback_drained(plan.release_id)
                else:
                    self._rollback_at_once(plan.release_id)
            return self._finish(run, "rolled back", Outcome.RELEASED)
        except lock.LockHeld as exc:
            self.reporter.error(str(exc))
            return Outcome.REFUSED
        except Exception as exc:
            balancer_failed = isinstance(exc, (balancers.BalancerUnavailable, balancers.DrainTimeout))
            hint = " (`fab rollback --no-drain` switches every host without the balancer)" if balancer_failed else ""
            self.reporter.error(f"rollback failed: {exc}{hint}")
            run.record["error"] = redact_text(str(exc))
            return self._finish(run, "rollback failed", Outcome.ROLLED_BACK)
        finally:
            self._unlock(run)

    def _rollback_drained(self, release_id: str) -> None:
        # A host a dead release left out of rotation goes first (see _switch_fleet); it stays out until it answers.
        with self.reporter.step("balancer: which hosts are out of rotation"):
            self._drained = [host for host in self.env.web_hosts if self.balancer().drained(host)]
            if self._drained:
                self.reporter.line(f"out of rotation already: {', '.join(self._drained)}")
        self._switch_fleet(release_id, self.env.web_hosts, drain=True)

    def _rollback_at_once(self, release_id: str) -> None:
        self._switch_fleet(release_id, hosts=self.env.web_hosts)
        if self.env.load_balancer != "none":
            # Every host answers as the release now: none stays out of the balancer (a release that
            # died mid-deploy may have left one drained). Undraining a host in rotation changes nothing.
            for host in self.env.web_hosts:
                with self.reporter.step(f"undrain [{host}]: in the balancer"):
                    self.balancer().undrain(host)

    # -- the release --------------------------------------------------------------------------------
    def _execute(self, plan: Plan, run: Run) -> Outcome:
        phases = {phase.name: phase for phase in plan.phases}
        try:
            try:
                with self.reporter.phase("preflight"):
                    self._preflight(phases["preflight"].steps, run)
                with self.reporter.phase("build"):
                    built = self._build(run)
                with self.reporter.phase("stage"):
                    self._stage(phases["stage"].steps, plan.release_id, built, run)
                with self.reporter.phase("backup"):
                    self._backup(run)
            except lock.LockHeld as exc:
                self.reporter.error(str(exc))
                return Outcome.REFUSED
            except Exception as exc:
                self.reporter.error(f"refused before any change: {exc}")
                run.record["error"] = redact_text(str(exc))
                return self._finish(run, "refused", Outcome.REFUSED)
            try:
                with self.reporter.phase("migrate"):
                    self._migrate(phases["migrate"].steps, run)
                with self.reporter.phase("deploy"):
                    self._deploy(phases["deploy"].steps, plan.release_id, run)
                with self.reporter.phase("verify"):
                    self._verify(plan.release_id, run)
                with self.reporter.phase("gates"):
                    self._gates(run)
                    if any(step.action == "loadtest" for step in phases["gates"].steps):
                        loadtest_gate.gate(self.env, self.db_url, self.state, run.record, self.reporter)
            except GateHeld as exc:
                self.reporter.warn(f"held for a person: {exc} (fab rollback to undo, or leave it)")
                return self._finish(run, "held", Outcome.HELD)
            except Exception as exc:
                self.reporter.error(f"release failed: {exc}")
                run.record["error"] = redact_text(str(exc))
                try:
                    self._roll_back(plan, run)
                except Exception as rollback_exc:
                    # Said loudly and recorded: a person must look (fab status shows what runs where).
                    self.reporter.error(f"ROLLBACK FAILED: {rollback_exc}; run `fab status` and `fab rollback`")
                    run.record["rollback_error"] = redact_text(str(rollback_exc))
                    return self._finish(run, "rollback failed", Outcome.ROLLED_BACK)
                return self._finish(run, "rolled back", Outcome.ROLLED_BACK)
            with self.reporter.phase("finish"):
                for step in phases["finish"].steps:
                    if step.action == "prune":
                        with self.reporter.step(step.describe()):
                            self.fleet.transports[step.host].run(host_commands.prune(self.fleet.layout, step.target))
            return self._finish(run, "released", Outcome.RELEASED)
        finally:
            self._unlock(run)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url, autocommit=True, connect_timeout=10)

    def _lock(self, run: Run, reason: str) -> None:
        with self._connect() as conn:
            lock.ensure_schema(conn)
            run.lease = lock.acquire(conn, self.env.name, self.owner, self.env.lock_ttl_seconds, reason)
        run.heartbeat = lock.Heartbeat(self.db_url, run.lease, self.env.lock_ttl_seconds).__enter__()
        run.record["lock_fence"] = run.lease.token

    def _still_ours(self, run: Run) -> None:
        assert run.lease is not None
        with self._connect() as conn:
            lock.check(conn, run.lease)

    def _unlock(self, run: Run) -> None:
        if run.heartbeat is not None:
            run.heartbeat.__exit__(None, None, None)
        if run.lease is not None:
            with self._connect() as conn:
                lock.release(conn, run.lease)
            run.lease = None

    def _preflight(self, steps: tuple[Step, ...], run: Run) -> None:
        for step in steps:
            with self.reporter.step(step.describe()):
                if step.action == "lock":
                    self._lock(run, "release")
                    self.balancer()  # an environment whose balancer cannot be driven is refused here
                elif step.action == "reach":
                    self.fleet.transports[step.host].run("true", timeout=20)
                elif step.action == "database":
                    client, server = backups.tool_versions(self.db_url)
                    run.record["pg"] = {"client": client, "server": server}
                    if client < server:
                        raise Refused(f"pg_dump {client} is older than the server ({server}): backups would fail")
                elif step.action == "checks":
                    self._checks("pre-deploy", run)

    def _build(self, run: Run) -> artifacts.Artifact:
        with self.reporter.step("artifact"):
            built = artifacts.build(
                self.repo,
                run.record.get("git_sha") if not run.record.get("dirty") else None,
                self.state / "artifacts",
                progress=self.reporter.line,
            )
        self.reporter.line(f"{built.path.name} sha256 {built.sha256[:16]}… ({built.size / 1e6:.1f} MB)")
        run.record["artifact"] = {"name": built.path.name, "sha256": built.sha256, "schema_head": built.schema_head}
        run.record["schema_head"] = built.schema_head
        run.artifact = built.path
        return built

    def _stage(self, steps: tuple[Step, ...], release_id: str, built: artifacts.Artifact, run: Run) -> None:
        remote = artifact_on_host(self.env, built.path)
        release_env = {"GOLIVE_RELEASE_ID": release_id, "GOLIVE_GIT_SHA": str(run.record["git_sha"])}
        for step in steps:
            transport = self.fleet.transports[step.host]
            with self.reporter.step(step.describe()):
                if step.action == "upload":
                    transport.run(f"mkdir -p {host_commands.q(str(self.env.root) + '/artifacts')}")
                    transport.put(built.path, remote)
                    transport.run(f"echo '{built.sha256}  {remote}' | sha256sum --check --quiet")
                elif step.action == "unpack":
                    transport.run(host_commands.unpack(self.fleet.layout, release_id, remote))
                elif step.action == "install":
                    transport.run(
                        host_commands.install(self.fleet.layout, release_id, built.requirements_hash, release_env),
                        timeout=900,
                    )

    def backups(self) -> backup_strategy.Backups:
        """Where this environment's backups are taken and restored (the controller, or its backup_host)."""
        return backup_strategy.for_environment(self.env, self.fleet, self.db_url, self.state)

    def _backup(self, run: Run) -> None:
        backups_here = self.backups()
        with self.reporter.step(
            f"backup {backups_here.where}: pg_dump -Fc, proven by a restore into a scratch database"
        ):
            taken = backups_here.take()
        self.reporter.line(taken.describe())
        run.record["backup"] = taken.record()
        run.backup = taken

    def _migrate(self, steps: tuple[Step, ...], run: Run) -> None:
        self._still_ours(run)
        with self._connect() as conn:
            before = _schema_revision(conn)
        run.record["schema_before"] = before
        for step in steps:
            with self.reporter.step(step.describe()):
                output = (
                    self.fleet.transports[step.host]
                    .run(host_commands.migrate(self.fleet.layout, step.target), timeout=900)
                    .output
                )
            self.reporter.line(output.strip().splitlines()[-1] if output.strip() else "")
        with self._connect() as conn:
            run.record["schema_after"] = _schema_revision(conn)
        applied = (
            migrations_info.applied_between(
                migrations_info.revisions(run.artifact), run.record["schema_before"], run.record["schema_after"]
            )
            if run.artifact
            else []
        )
        run.record["irreversible"] = [revision.revision for revision in applied if revision.irreversible]

    def _deploy(self, steps: tuple[Step, ...], release_id: str, run: Run) -> None:
        self._still_ours(run)
        self._run_switch_steps(steps, release_id, run.switched)

    def _run_switch_steps(self, steps: tuple[Step, ...] | list[Step], release_id: str, switched: list[str]) -> None:
        ports = {instance.name: instance.port for instance in self.env.instances}
        for step in steps:
            transport = self.fleet.transports[step.host]
            with self.reporter.step(step.describe()):
                if step.action == "switch":
                    transport.run(host_commands.switch(self.fleet.layout, release_id))
                    if step.host not in switched:
                        switched.append(step.host)
                elif step.action == "restart":
                    transport.run(self._restart_command(step.target))
                elif step.action == "health":
                    url = self.fleet.instance_url(step.host, ports[step.target])
                    self.fleet.wait_healthy(url, release_id, self.env.health_timeout_seconds)
                elif step.action == "drain":
                    self.balancer().drain(step.host)
                    self._drained.append(step.host)
                elif step.action == "undrain":
                    self.balancer().undrain(step.host)
                    self._drained = [host for host in self._drained if host != step.host]

    def balancer(self) -> balancers.Balancer:
        if self._balancer is None:
            self._balancer = balancers.balancer_for(self.env)
        return self._balancer

    def _restart_command(self, instance: str | None) -> str:
        assert instance is not None
        conf = str(self.env.root / "supervisord.conf") if self.env.service_manager == "supervisord" else None
        supervisorctl = f"{q(sys.executable)} -m supervisor.supervisorctl"
        return host_commands.restart(
            self.env.service_manager, instance, supervisorctl=supervisorctl, supervisor_conf=conf
        )

    def _switch_fleet(self, release_id: str, hosts: tuple[str, ...] | list[str], *, drain: bool = False) -> None:
        """`hosts` in their order. With `drain`, each host out of the balancer while it restarts; a host this run
        left drained (its release failed there) goes first: it is out of rotation already, and draining another
        host before it is back would take the last one out (the balancer refuses that)."""
        steps = switch_steps(self.env, release_id, drain=drain)
        order = [host for host in hosts if host in self._drained] + [h for h in hosts if h not in self._drained]
        ordered = [step for host in order for step in steps if step.host == host]
        self._run_switch_steps(ordered, release_id, [])

    def _verify(self, release_id: str, run: Run) -> None:
        results = smoke.run(self.env, release_id, self.reporter)
        run.record["smoke"] = results
        with self.reporter.step("checks: post-deploy"):
            self._checks("post-deploy", run)

    def _checks(self, phase: str, run: Run) -> None:
        """A phase of the checklist (checks/); its summary goes into the audit record, its report to state/checks."""
        result, _, paths = check_phases.run(
            self.env,
            self.db_url,
            phase,
            repo=self.repo,
            state=self.state,
            record=run.record,
            progress=check_phases.progress_line(self.reporter.line),
        )
        run.record.setdefault("checks", {})[phase] = {**result.record(), "report": paths[0].name}
        if result.blocking:
            raise ChecksFailed(f"required {phase} checks failed: {', '.join(o.item.id for o in result.blocking)}")

    def _gates(self, run: Run) -> None:
        thresholds = gates.Thresholds.from_mapping(self.env.gates)
        traffic = None
        if self.env.synthetic_traffic.get("enabled"):
            rate = float(self.env.synthetic_traffic.get("rate_per_second", 4))

            def traffic(seconds: float) -> None:
                synthetic_payments(
                    self.env.entry_url, duration=seconds, rate_per_second=rate, verify=self.env.tls_verify
                )

        observation = gate_sources.observe_gates(
            self.env.instance_urls(), thresholds, self.env.monitoring, traffic=traffic, progress=self.reporter.line
        )
        results = observation.results
        run.record.update(observation.record())
        if observation.fallback:
            self.reporter.warn(f"gates judged from /metrics, not Prometheus: {observation.fallback}")
        for result in results:
            self.reporter.line(f"{result.name}: {result.verdict} ({result.detail}) [{result.source}]")
        verdict = gates.verdict(results)
        run.record["gate_verdict"] = verdict
        if verdict == "fail":
            raise GateFailed("a gate failed: " + ", ".join(r.name for r in results if r.verdict == "fail"))
        if verdict == "inconclusive":
            if self.env.inconclusive == "hold":
                raise GateHeld("gates inconclusive (too few samples)")
            raise GateFailed("gates inconclusive and this environment's policy is to fail")

    def _roll_back(self, plan: Plan, run: Run) -> None:
        if run.record.get("irreversible") and run.backup is not None:
            # The previous release cannot run on this schema: back to the proven pre-migration backup first.
            with (
                self.reporter.phase("restore"),
                self.reporter.step(
                    f"restore backup {run.backup.id} (irreversible: {', '.join(run.record['irreversible'])})"
                ),
            ):
                restored = self.backups().restore(run.backup.id, sha256=run.backup.sha256)
            run.record["database_restored"] = run.backup.id
            run.record["database_replaced"] = restored.get("replaced")  # a dump of what the restore replaced
        if not run.switched:
            self.reporter.line("no host was switched: nothing to roll back")
            return
        if plan.previous is None:
            self.reporter.error("first release failed and there is no previous release: instances stopped as they are")
            return
        with self.reporter.phase("rollback"):
            # Every web host, not only those switched: a failure mid-batch must not leave a split fleet. Host by
            # host out of the balancer, as the release went: the host that failed is undrained once it answers
            # as the previous release again, and the others serve no request while they restart.
            self._switch_fleet(plan.previous, self.env.web_hosts, drain=True)
            # The switch back made the failed release `previous`; a later `fab rollback` must not return to it.
            for host in self.env.web_hosts:
                with self.reporter.step(f"previous [{host}]: -> {run.prior_previous or 'none'}"):
                    self.fleet.transports[host].run(host_commands.set_previous(self.fleet.layout, run.prior_previous))
        run.record["rolled_back_to"] = plan.previous

    def _finish(self, run: Run, outcome: str, code: Outcome) -> Outcome:
        run.record["outcome"] = outcome
        run.record["timings"] = {name: round(seconds, 2) for name, seconds in self.reporter.timings.items()}
        run.record["exit_code"] = int(code)
        if run.lease is not None or "lock_fence" in run.record:
            self.audit.append(run.record)
        self.reporter.summary(outcome)
        return code

    def deployed(self) -> Deployed:
        return self.fleet.deployed()


def _schema_revision(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None
