"""Executes a plan (release/plan.py) phase by phase, one handler per action (release/steps/): thin, because every
decision is in the plan, and what --dry-run prints is what runs.

Exit codes (release/exit_codes.py): 0 released (or nothing to do), 1 rolled back, 2 refused before any change,
3 held for a person (the hold and the rest of its plan in the audit log: `promote` finishes it in a later process,
the lock taken again; a held release keeps no lock, so `fab rollback` stays possible). After the first change, any
failure runs the plan's recovery (release.plan.plan_recovery): the whole fleet back to the previous release — never
a fleet split across versions. Every run that took the lock leaves a record in the hash-chained audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlsplit

import psycopg

from app.contract import redact_text, register_secret
from foundation.audit import AuditLog
from foundation.backups import strategy as backup_strategy
from foundation.backups.strategy import Backups
from foundation.backups.taken import Taken
from foundation.environment import Environment
from foundation.fleet import Deployed, Fleet
from foundation.holds import HELD, held_release, recorded_release
from foundation.reporter import Reporter
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from foundation.transport import Transport
from release import balancers, lock
from release.build import artifact as artifacts
from release.exit_codes import ExitCode, Refused
from release.plan import (
    CATCH_UP,
    Action,
    Plan,
    Step,
    phases_as_data,
    phases_from_data,
    plan_promote,
    plan_recovery,
    plan_release,
    plan_rollback,
    remainder,
)
from release.run import GateHeld, Run, RunChecks, SignoffHeld, StepContext, controller_identity
from release.steps import build, data, preflight, switching, verify

Handler = Callable[[StepContext, Step, Run], None]

# The one dispatch table: every action a plan can hold, and what runs it.
HANDLERS: dict[Action, Handler] = {
    Action.LOCK: preflight.take_lock,
    Action.REACH: preflight.reach,
    Action.DATABASE: preflight.database,
    Action.CHECKS: preflight.checks,
    Action.ARTIFACT: build.artifact,
    Action.UPLOAD: build.upload,
    Action.UNPACK: build.unpack,
    Action.INSTALL: build.install,
    Action.BACKUP: data.backup,
    Action.MIGRATE: data.migrate,
    Action.DRAIN: switching.drain,
    Action.SWITCH: switching.switch,
    Action.RESTART: switching.restart,
    Action.HEALTH: switching.health,
    Action.UNDRAIN: switching.undrain,
    Action.SMOKE: verify.smoke,
    Action.OBSERVE: verify.observe,
    Action.LOADTEST: verify.loadtest,
    Action.RESTORE: data.restore,
    Action.PREVIOUS: switching.previous,
    Action.PRUNE: switching.prune,
    Action.UNLOCK: preflight.release_lock,
}


P = ParamSpec("P")


def _one_run(method: Callable[Concatenate[Engine, P], ExitCode]) -> Callable[Concatenate[Engine, P], ExitCode]:
    """An entry point: what reaches the instances (forwards over SSH, opened as the run first asks) closes with it."""

    @wraps(method)
    def run(engine: Engine, *args: P.args, **kwargs: P.kwargs) -> ExitCode:
        with engine.fleet.endpoints:
            return method(engine, *args, **kwargs)

    return run


class Engine:
    def __init__(
        self,
        env: Environment,
        db_url: str,
        *,
        run_checks: RunChecks,
        reporter: Reporter | None = None,
        repo: Path = REPO_ROOT,
        owner: str | None = None,
        state: StateLayout | None = None,
    ):
        self.env = env
        self.db_url = db_url
        self.reporter = reporter or Reporter()
        self.repo = repo
        self.owner = owner or controller_identity()
        self.state = state or StateLayout.default(repo)
        self.run_checks = run_checks
        self.fleet = Fleet.of(env)
        self._balancer: balancers.Balancer | None = None
        self.audit = AuditLog(self.state.audit_log(env.name))
        password = urlsplit(db_url).password
        if password:
            register_secret(password)

    # -- what the steps use ----------------------------------------------------------------------------------
    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url, autocommit=True, connect_timeout=10)

    def transport(self, step: Step) -> Transport:
        assert step.host is not None, f"{step.action} runs on a host"
        return self.fleet.transports[step.host]

    def balancer(self) -> balancers.Balancer:
        if self._balancer is None:
            self._balancer = balancers.balancer_for(self.env)
        return self._balancer

    def backups(self) -> Backups:
        """Where this environment's backups are taken and restored (the controller, or its backup_host)."""
        return backup_strategy.for_environment(self.env, self.fleet, self.db_url, self.state)

    def unlock(self, run: Run) -> None:
        if run.heartbeat is not None:
            run.heartbeat.__exit__(None, None, None)
            run.heartbeat = None
        if run.lease is not None:
            with self.connect() as conn:
                lock.release(conn, run.lease)
            run.lease = None

    # -- entry points ----------------------------------------------------------------------------------------
    def plan(self, ref: str | None, deployed: Deployed | None = None) -> tuple[Plan, artifacts.ResolvedVersion]:
        resolved = artifacts.resolve_version(self.repo, ref)
        release_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{resolved.version}"
        deployed = deployed or self.deployed()
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

    @_one_run
    def release(self, ref: str | None, *, dry_run: bool = False) -> ExitCode:
        try:
            deployed = self.deployed()
            plan, resolved = self.plan(ref, deployed)
        except Exception as exc:  # nothing has changed yet: every failure here is a refusal
            self.reporter.error(f"refused: {exc}")
            return ExitCode.REFUSED
        for line in plan.describe():
            self.reporter.line(line)
        held = held_release(self.audit) if plan.no_op else None
        if held and held.get("release_id") == deployed.current and not dry_run:
            self.reporter.warn(
                f"{deployed.current} is held for a person: `fab promote --env {self.env.name}` finishes it"
            )
            return ExitCode.HELD
        if dry_run or plan.no_op:
            return ExitCode.OK
        record = {
            "kind": plan.kind,
            "env": self.env.name,
            "by": self.owner,
            "version": plan.version,
            "git_sha": resolved.git_sha,
            "dirty": resolved.dirty,
            "release_id": plan.release_id,
            "previous": plan.previous,
        }
        if plan.kind == CATCH_UP:
            record["behind"] = deployed.behind
        return self._release(Run.of(plan, record, deployed.previous))

    @_one_run
    def rollback(self, to: str | None = None, *, reason: str = "requested", drain: bool = True) -> ExitCode:
        """Every web host to the previous release (or `to`): plan_rollback's steps. With `drain` (the default)
        host by host out of the balancer, as a release goes; without it every host at once, then back into
        rotation (when the balancer itself cannot be driven)."""
        drains = drain and self.env.load_balancer != "none"
        try:
            # A split fleet (a release that died mid-deploy) is what --to is for: every host to that release.
            deployed = self.deployed(split_ok=to is not None)
            if drains:
                out = tuple(host for host in self.env.web_hosts if self.balancer().drained(host))
                deployed = replace(deployed, drained=out)
            plan = plan_rollback(self.env, deployed=deployed, to=to, drain=drain)
        except Exception as exc:
            self.reporter.error(f"refused: {exc}{_no_drain_hint(exc)}")
            return ExitCode.REFUSED
        if plan.no_op:
            self.reporter.line(f"{plan.version} is already current")
            return ExitCode.OK
        for line in plan.describe():
            self.reporter.line(line)
        record = {
            "kind": "rollback",
            "env": self.env.name,
            "by": self.owner,
            "release_id": plan.release_id,
            "from": deployed.current,
            "reason": reason,
            "drained": drains,
        }
        run = Run.of(plan, record)
        try:
            self._run(plan, run)
            return self._finish(run, "rolled back", ExitCode.OK)
        except lock.LockHeld as exc:
            self.reporter.error(str(exc))
            return ExitCode.REFUSED
        except Exception as exc:
            self.reporter.error(f"rollback failed: {exc}{_no_drain_hint(exc)}")
            run.record["error"] = redact_text(str(exc))
            return self._finish(run, "rollback failed", ExitCode.FAILED)
        finally:
            self.unlock(run)

    @_one_run
    def promote(self) -> ExitCode:
        """Finish the held release (the audit log says which): the lock taken again, the step that held it run again
        (its checks judge the sign-offs given since), then whatever was left of its plan. Still unsigned: held again
        (exit 3); a failure: rolled back as the release would have been; nothing held: refused."""
        try:
            held, plan = self._promotable()
        except Exception as exc:
            self.reporter.error(f"refused: {exc}")
            return ExitCode.REFUSED
        for line in plan.describe():
            self.reporter.line(line)
        hold = held["hold"]
        record = {key: value for key, value in held.items() if key not in _NOT_CARRIED}
        record.update(by=self.owner, promoted_from=held["seq"])
        run = Run.of(plan, record, hold.get("prior_previous"))
        run.switched = list(hold.get("switched", ()))
        if hold.get("backup"):
            run.backup = Taken.from_summary(hold["backup"], host=hold["backup"].get("host"))
        return self._release(run)

    def _promotable(self) -> tuple[dict[str, Any], Plan]:
        held = held_release(self.audit)
        if held is None:
            raise Refused(f"no release of {self.env.name} is held for a person: nothing to promote (fab history)")
        if not isinstance(held.get("hold"), dict):
            raise Refused(f"release {held.get('release_id')} was held without a plan to resume: release it again")
        current = self.deployed().current
        if current != held["release_id"]:
            raise Refused(
                f"the held release {held['release_id']} is no longer current ({current} is): nothing to promote"
            )
        resume = phases_from_data(held["hold"]["resume"])
        plan = plan_promote(
            self.env,
            version=held["version"],
            release_id=held["release_id"],
            previous=held.get("previous"),
            resume=resume,
        )
        return held, plan

    def deployed(self, *, split_ok: bool = False) -> Deployed:
        """What the fleet runs; where its hosts differ, the audit log says which release is the fleet's."""
        return self.fleet.deployed(split_ok=split_ok, recorded=recorded_release(self.audit))

    # -- running plans ---------------------------------------------------------------------------------------
    def _run(self, plan: Plan, run: Run) -> None:
        """Every step of `plan`, in order, each through its handler; a phase that changes what clients see
        first makes sure the lock is still this run's."""
        run.executing = plan
        for phase in plan.phases:
            run.phase = phase
            with self.reporter.phase(phase.name):
                if phase.changes and run.lease is not None:
                    with self.connect() as conn:
                        lock.check(conn, run.lease)
                for step in phase.steps:
                    run.step = step
                    with self.reporter.step(step.describe()):
                        HANDLERS[step.action](self, step, run)

    def _release(self, run: Run) -> ExitCode:
        try:
            try:
                self._run(run.plan, run)
            except lock.LockHeld as exc:
                self.reporter.error(str(exc))
                return ExitCode.REFUSED
            except GateHeld as exc:
                run.record["hold"] = self._hold(run, exc)
                self.reporter.warn(_held_message(self.env.name, exc))
                return self._finish(run, HELD, ExitCode.HELD)
            except Exception as exc:
                run.record["error"] = redact_text(str(exc))
                if run.phase is None or not run.phase.changes:
                    self.reporter.error(f"refused before any change: {exc}")
                    return self._finish(run, "refused", ExitCode.REFUSED)
                if run.plan.kind == CATCH_UP:  # the fleet's release is unchanged: nothing to roll back to
                    out = f"; {', '.join(run.drained)} left out of the balancer" if run.drained else ""
                    self.reporter.error(
                        f"catch-up failed: {exc}{out}; hosts already on {run.plan.release_id} untouched"
                    )
                    return self._finish(run, "catch-up failed", ExitCode.FAILED)
                self.reporter.error(f"release failed: {exc}")
                return self._recover(run)
            return self._finish(run, "caught up" if run.plan.kind == CATCH_UP else "released", ExitCode.OK)
        finally:
            self.unlock(run)

    def _hold(self, run: Run, exc: GateHeld) -> dict[str, Any]:
        """What `fab promote` needs to finish the release in a later process: the rest of the plan from the step
        that held (run again first), and what a rollback after it would need."""
        assert run.phase is not None and run.step is not None
        backup = run.backup
        return {
            "phase": run.phase.name,
            "reason": str(exc),
            "waiting_for": list(exc.items) if isinstance(exc, SignoffHeld) else [],
            "resume": phases_as_data(remainder(run.executing, run.phase, run.step)),
            "prior_previous": run.prior_previous,
            "switched": list(run.switched),
            "backup": {**backup.record(), "created_at": backup.created_at.isoformat()} if backup else None,
        }

    def _recover(self, run: Run) -> ExitCode:
        irreversible = bool(run.record.get("irreversible")) and run.backup is not None
        recovery = plan_recovery(
            self.env,
            run.plan,
            prior_previous=run.prior_previous,
            switched=bool(run.switched),
            drained=tuple(run.drained),
            restore=run.backup.id if irreversible else None,
        )
        for note in recovery.notes:
            self.reporter.line(note)
        try:
            self._run(recovery, run)
        except Exception as exc:
            # Said loudly and recorded: a person must look (fab status shows what runs where).
            self.reporter.error(f"ROLLBACK FAILED: {exc}; run `fab status` and `fab rollback`")
            run.record["rollback_error"] = redact_text(str(exc))
            return self._finish(run, "rollback failed", ExitCode.FAILED)
        if any(phase.name == "rollback" for phase in recovery.phases):
            run.record["rolled_back_to"] = run.plan.previous
        return self._finish(run, "rolled back", ExitCode.FAILED)

    def _finish(self, run: Run, outcome: str, code: ExitCode) -> ExitCode:
        run.record["outcome"] = outcome
        run.record["timings"] = {name: round(seconds, 2) for name, seconds in self.reporter.timings.items()}
        run.record["exit_code"] = int(code)
        if run.lease is not None or "lock_fence" in run.record:
            self.audit.append(run.record)
        self.reporter.summary(outcome)
        return code


# What a promote's record does not take over from the held release's (the audit log's own keys, how it ended).
_NOT_CARRIED = ("seq", "at", "prev", "hash", "outcome", "timings", "exit_code", "hold", "error", "by", "lock_fence")


def _held_message(env: str, exc: GateHeld) -> str:
    then = f"then `fab promote --env {env}` finishes it; `fab rollback --env {env}` undoes it"
    if isinstance(exc, SignoffHeld):
        return f"{exc}: sign each (`fab signoff --env {env} --item ID --by NAME`), {then}"
    return f"held for a person: {exc}; {then}"


def _no_drain_hint(exc: Exception) -> str:
    if isinstance(exc, (balancers.BalancerUnavailable, balancers.DrainTimeout)):
        return " (`fab rollback --no-drain` switches every host without the balancer)"
    return ""
