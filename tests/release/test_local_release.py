"""The release engine end to end on a throwaway `local` environment: real processes (embedded PostgreSQL,
supervisord, the Daraja simulator, two service instances), real git versions, the real CLI (`fab release`,
`fab rollback`, `fab rollout`, `fab history`) and its exit codes: 0 released, 1 rolled back, 2 refused before
any change, 3 held.

One environment serves the whole module and the tests run in file order, but every test first brings the
environment to the state it starts from (`world.released(tag)`: a no-op when that version is already current; a
test that needs a release but not a particular one takes the current one, and moves to the other of v3/v4) and
asserts only what it did itself. The environment is brought down at the end and no process of it is left.
Under xdist the tests from v3 on are a group of their own (V3_ONWARDS): they run beside the others, on another
worker, in an environment of that worker's own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from app.db import migrator
from checks import signoffs
from checks.catalogue import PHASES, load
from foundation.audit import AuditLog
from foundation.backups import dumps as backups
from foundation.backups import strategy
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from release import lock
from release.controller import Controller
from release.exit_codes import ExitCode
from tests.release.local_harness import (
    Fab,
    FabResult,
    LocalStage,
    VersionRepo,
    add_column_migration,
    bring_down,
    broken_migration,
    derive_environment,
    output_until,
    replace_once,
    seed_wheelhouses,
    short_tmp,
    write_environment,
)
from tests.support.processes import free_port
from tests.support.s3_server import CREDENTIALS, REGION

# The working tree's schema head (v1), and the revisions the test versions add on top of it.
V1 = migrator.head_revision()
V2, V3 = "9002", "9003"

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

RELEASED, ROLLED_BACK, REFUSED, HELD = 0, 1, 2, 3
# The v3/v4 tests: one xdist group (tests/support/parallel.py), the rest of the module another (its module fixture).
V3_ONWARDS = pytest.mark.xdist_group("tests/release/test_local_release.py (v3 onwards)")
FEATURE = "mpesa_payments"


@dataclass
class World:
    base: Path
    repo: VersionRepo
    fab: Fab
    stage: LocalStage
    rollout_env: Path

    def version(self, tag: str) -> str:
        """The release engine's version of a tag: the first 12 hex of its commit."""
        return self.repo.sha(tag)[:12]

    def release(self, tag: str, **kwargs) -> FabResult:
        return self.fab.run("release", "--version", tag, **kwargs)

    def released(self, tag: str) -> str:
        """Makes `tag` the current release (nothing to do when it is) and returns its release id."""
        result = self.release(tag)
        assert result.code == RELEASED, result
        current = self.stage.current()
        assert current is not None and current.endswith(self.version(tag)), (current, result)
        self.stage.assert_consistent(current)
        return current

    def any_release(self) -> str:
        """The current release, whichever it is (v4 when there is none yet): for a test that needs one, not a tag."""
        current = self.stage.current()
        return self.released("v4") if current is None else current

    def other_than_current(self) -> str:
        """v3 or v4, whichever is not current (v3 released first when neither is): a release to move to."""
        current = self.stage.current() or self.released("v3")
        return "v3" if current.endswith(self.version("v4")) else "v4"

    def last_record(self) -> dict:
        return self.stage.audit_entries()[-1]

    def records(self) -> int:
        return len(self.stage.audit_entries())


def _versions(repo: VersionRepo) -> None:
    """v1 is the working tree; v2 adds migration V2; the bad-* versions break v2 one way each; v3 adds
    migration V3; v4 changes a file only."""
    repo.version("v2", {f"app/migrations/versions/{V2}_release_note.py": add_column_migration(V2, V1, "note")})
    main = repo.read("app/main.py", "v2")
    repo.version(
        "bad-health",
        {
            "app/main.py": replace_once(
                main,
                "    settings = settings or get_settings()\n",
                "    settings = settings or get_settings()\n"
                "    raise RuntimeError('injected: this release cannot start')\n",
            )
        },
        base="v2",
    )
    payments = repo.read("app/api/payments.py", "v2")
    repo.version(
        "bad-gate",
        {
            "app/api/payments.py": replace_once(
                payments,
                "async def list_packages(svc: ServicesDep) -> list[PackageOut]:\n",
                "async def list_packages(svc: ServicesDep) -> list[PackageOut]:\n"
                "    raise RuntimeError('injected: the package list is broken')\n",
            )
        },
        base="v2",
    )
    irreversible = add_column_migration(V3, V2, "gone").replace(
        "depends_on = None\n", "depends_on = None\nirreversible = True  # the previous release cannot run after it\n"
    )
    repo.version(
        "irreversible-bad-gate",
        {
            f"app/migrations/versions/{V3}_irreversible.py": irreversible,
            "app/api/payments.py": replace_once(
                payments,
                "async def list_packages(svc: ServicesDep) -> list[PackageOut]:\n",
                "async def list_packages(svc: ServicesDep) -> list[PackageOut]:\n"
                "    raise RuntimeError('injected: the package list is broken')\n",
            ),
        },
        base="v2",
    )
    repo.version("bad-migration", {f"app/migrations/versions/{V3}_broken.py": broken_migration(V3, V2)}, base="v2")
    repo.version("v3", {f"app/migrations/versions/{V3}_more.py": add_column_migration(V3, V2, "more")}, base="v2")
    repo.version("v4", {"RELEASE_NOTES.txt": "v4: nothing but this file changes\n"}, base="v3")


@pytest.fixture(scope="module")
def world(shared_wheelhouses: Path) -> Iterator[World]:
    base = short_tmp()
    stage = None
    try:
        repo = VersionRepo.copy_of(REPO_ROOT, base / "repo")
        _versions(repo)
        state = base / "ctl"
        seed_wheelhouses(StateLayout(state).artifacts, shared_wheelhouses)
        env_file = base / "proof.yml"
        raw = write_environment(env_file, base / "env")
        # The rollout's first step reaches only 10 % of the synthetic payers: a longer, denser window gives its
        # payment gate enough samples (about 12 where 2 are needed at 10 %; fewer than 2 happens ~1 in 10^4).
        rollout_env = derive_environment(
            base / "rollout.yml",
            raw,
            gates={**raw["gates"], "window_seconds": 6, "min_payments": 2},
            synthetic_traffic={"enabled": True, "rate_per_second": 20},
        )
        stage = LocalStage(env_file, state)
        yield World(base, repo, Fab(repo.path, state, env_file), stage, rollout_env)
    finally:
        leftovers = bring_down(stage, base) if stage is not None else []
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"processes of the test environment were left running: {leftovers}"


def _phases(record: dict) -> dict[str, float]:
    return record.get("timings", {})


# --- releasing ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(600)  # the first release builds the artifact and its venv
def test_first_release_serves_on_both_instances_and_is_audited(world: World):
    assert world.stage.current() is None, "the test environment is fresh"
    result = world.release("v1")
    assert result.code == RELEASED, result
    current = world.stage.current()
    assert current is not None and current.endswith(world.version("v1"))
    for answer in world.stage.versions():
        assert answer["release_id"] == current and answer["health"] == 200, answer
        assert answer["schema_revision"] == answer["schema_head"] == V1
    assert world.stage.schema_revision() == V1

    record = world.last_record()
    assert record["kind"] == "release" and record["outcome"] == "released" and record["exit_code"] == 0
    assert record["release_id"] == current and record["version"] == world.version("v1")
    assert len(record["artifact"]["sha256"]) == 64 and record["backup"]["id"]
    assert record["schema_before"] is None and record["schema_after"] == V1
    assert record["gate_verdict"] == "pass"
    assert set(_phases(record)) >= {"preflight", "build", "stage", "backup", "migrate", "deploy", "verify", "gates"}

    history = world.fab.run("history")
    assert history.code == 0, history
    assert f"chain verified: {world.records()} records" in history.output
    assert "released" in history.output


def test_re_releasing_the_current_version_is_a_no_op(world: World):
    current = world.released("v1")
    records, pids = world.records(), world.stage.supervisor_pids()
    result = world.release("v1")
    assert result.code == RELEASED, result
    assert "nothing to do" in result.output
    assert world.stage.current() == current
    assert world.stage.supervisor_pids() == pids, "no instance was restarted"
    assert world.records() == records, "a no-op leaves no audit record"
    assert len([r for r in world.stage.releases() if r.endswith(world.version("v1"))]) == 1


def _planned(output: str) -> list[str]:
    """The steps --dry-run prints (`       <step>` under `  N. <phase>`), a release id's timestamp left out."""
    return [_same_id(line.strip()) for line in output.splitlines() if re.match(r"^ {11}\S", line)]


def _ran(output: str) -> list[str]:
    """The steps a release said it ran (`  ✓ <step> (0.1 s)`), a release id's timestamp left out."""
    return [_same_id(match) for match in re.findall(r"^  ✓ (.*) \(\d+\.\d s\)$", output, re.M)]


def _same_id(line: str) -> str:
    return re.sub(r"\b\d{14}-", "<id>-", line)


def test_upgrade_runs_the_new_migration_and_keeps_the_previous_release(world: World):
    before = world.released("v1")
    assert "note" not in world.stage.columns("payments")
    dry = world.fab.run("release", "--version", "v2", "--dry-run")
    assert dry.code == RELEASED, dry
    result = world.release("v2")
    assert result.code == RELEASED, result
    assert _ran(result.output) == _planned(dry.output), "--dry-run printed exactly the steps the release ran"
    current = world.stage.assert_consistent()
    assert current.endswith(world.version("v2"))
    assert world.stage.schema_revision() == V2
    assert "note" in world.stage.columns("payments")
    assert {answer["schema_revision"] for answer in world.stage.versions()} == {V2}
    assert world.stage.previous() == before, "the previous release is kept for a rollback"
    assert before in world.stage.releases()
    record = world.last_record()
    assert (record["schema_before"], record["schema_after"], record["schema_head"]) == (V1, V2, V2)
    assert record["previous"] == before
    print(f"warm fab release: {result.seconds:.1f} s wall, seconds per phase: {json.dumps(_phases(record))}")


def test_failed_health_check_rolls_the_fleet_back(world: World):
    before = world.released("v2")
    previous = world.stage.previous()
    result = world.release("bad-health")
    assert result.code == ROLLED_BACK, result
    assert "==> rollback" in result.output
    world.stage.assert_consistent(before)
    assert httpx.get(f"{world.stage.env.entry_url}/api/packages", timeout=5).status_code == 200
    assert world.stage.previous() == previous, "the failed release is not what a later rollback returns to"
    failed = world.last_record()
    assert failed["outcome"] == "rolled back" and failed["exit_code"] == 1
    assert failed["rolled_back_to"] == before and failed["release_id"].endswith(world.version("bad-health"))
    assert failed["release_id"] in world.stage.releases(), "kept for inspection"


def test_rollback_after_an_irreversible_migration_restores_the_database(world: World):
    before = world.released("v2")
    result = world.release("irreversible-bad-gate")
    assert result.code == ROLLED_BACK, result
    assert "==> restore" in result.output
    world.stage.assert_consistent(before)
    assert world.stage.schema_revision() == V2
    assert "gone" not in world.stage.columns("payments")
    failed = world.last_record()
    assert failed["irreversible"] == [V3]
    assert failed["database_restored"] == failed["backup"]["id"]


def test_failed_gate_rolls_the_fleet_back(world: World):
    before = world.released("v2")
    result = world.release("bad-gate")
    assert result.code == ROLLED_BACK, result
    assert "a gate failed: error_rate" in result.output
    world.stage.assert_consistent(before)
    for url in world.stage.instance_urls():
        assert httpx.get(f"{url}/api/packages", timeout=5).status_code == 200, "the previous code serves again"
    failed = world.last_record()
    assert failed["outcome"] == "rolled back" and failed["rolled_back_to"] == before
    assert failed["gate_verdict"] == "fail" and failed["gates"]["error_rate"]["verdict"] == "fail"
    assert failed["gates"]["error_rate"]["value"] > 0.01
    assert not failed["irreversible"] and "database_restored" not in failed, "code rollback only"


def test_failing_migration_switches_nothing(world: World):
    before = world.released("v2")
    pids = world.stage.supervisor_pids()
    result = world.release("bad-migration")
    # The migration runs after the backup, when a change may have begun: the engine reports "rolled back" (1);
    # nothing was switched, so there is nothing to switch back.
    assert result.code == ROLLED_BACK, result
    assert "no host was switched" in result.output
    assert world.stage.current() == before
    assert world.stage.supervisor_pids() == pids, "no instance was restarted"
    world.stage.assert_consistent(before)
    assert world.stage.schema_revision() == V2
    assert "half_applied" not in world.stage.columns("payments"), "the migration's transaction rolled back whole"
    failed = world.last_record()
    assert failed["outcome"] == "rolled back" and failed["exit_code"] == 1
    assert "rolled_back_to" not in failed and "schema_after" not in failed
    assert "syntax error" in failed["error"]


def test_backup_that_does_not_restore_refuses_before_migrating(world: World, monkeypatch: pytest.MonkeyPatch):
    before = world.released("v2")
    pids = world.stage.supervisor_pids()
    take = backups.Store.take
    corrupted: list[Path] = []

    def take_then_truncate(store: backups.Store, url: str, **kwargs) -> backups.Backup:
        """The real dump, then cut in half with a matching checksum: only restoring it can tell."""
        taken = take(store, url, **kwargs)
        data = taken.path.read_bytes()
        taken.path.write_bytes(data[: len(data) // 2])
        corrupted.append(taken.path)
        return dataclasses.replace(
            taken, sha256=hashlib.sha256(taken.path.read_bytes()).hexdigest(), size=taken.path.stat().st_size
        )

    monkeypatch.setattr(backups.Store, "take", take_then_truncate)
    engine = Controller(
        world.stage.env, state=StateLayout(world.fab.state), repo=world.repo.path, db_url=world.stage.db_url()
    ).engine
    outcome = engine.release("v3")
    assert outcome == ExitCode.REFUSED
    assert corrupted, "the engine took its backup through foundation.backups.dumps.Store.take"
    assert world.stage.schema_revision() == V2, "refused before migrating"
    assert "more" not in world.stage.columns("payments")
    assert world.stage.current() == before and world.stage.supervisor_pids() == pids
    world.stage.assert_consistent(before)
    refused = world.last_record()
    assert refused["outcome"] == "refused" and refused["exit_code"] == 2
    assert "pg_restore failed" in refused["error"]
    assert "backup" not in refused and "schema_before" not in refused
    assert world.stage.lock_holder() is None
    with world.stage.db() as conn:
        scratch = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'golive_prove_%'").fetchall()
    assert scratch == [], "the proof's scratch database is dropped"


def test_backup_bucket_out_of_reach_refuses_before_migrating(world: World, monkeypatch: pytest.MonkeyPatch):
    """An environment whose stack outputs name a backup bucket (staging, production) ships the proven backup
    before migrating; a bucket it cannot reach refuses the release as a backup that does not restore does."""
    before = world.released("v2")
    pids = world.stage.supervisor_pids()
    key = backups.key_from_text(secrets.token_urlsafe(40), "the test's key")
    monkeypatch.setattr(strategy, "vaulted_key", lambda state, source: key)  # the vault's vault_backup_key
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    env = dataclasses.replace(world.stage.env, outputs={"backup_bucket": "golive-proof-backups", "region": REGION})
    engine = Controller(
        env, state=StateLayout(world.fab.state), repo=world.repo.path, db_url=world.stage.db_url()
    ).engine

    assert engine.release("v3") == ExitCode.REFUSED

    assert world.stage.schema_revision() == V2, "refused before migrating"
    assert "more" not in world.stage.columns("payments")
    assert world.stage.current() == before and world.stage.supervisor_pids() == pids
    refused = world.last_record()
    assert refused["outcome"] == "refused" and refused["exit_code"] == 2
    assert "backup bucket s3://golive-proof-backups: shipping backup " in refused["error"]
    assert "Could not connect to the endpoint URL" in refused["error"] and closed in refused["error"]
    assert key.secret.decode() not in json.dumps(refused) and CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in json.dumps(
        refused
    )
    assert world.stage.lock_holder() is None


def test_release_is_refused_while_another_controller_holds_the_lock(world: World):
    before = world.released("v2")
    with world.stage.db() as conn:
        lock.ensure_schema(conn)
        lease = lock.acquire(conn, world.stage.env.name, "other-controller@elsewhere", 120, "a release from elsewhere")
        try:
            result = world.release("v3")
        finally:
            lock.release(conn, lease)
    assert result.code == REFUSED, result
    assert "held by other-controller@elsewhere" in result.output
    assert world.stage.current() == before
    assert world.stage.schema_revision() == V2
    world.stage.assert_consistent(before)


def test_two_concurrent_releases_one_is_refused(world: World):
    before = world.released("v2")
    records = world.records()
    processes = [world.fab.start("release", "--version", "v3") for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    codes = [process.returncode for process in processes]
    for code, output in zip(codes, outputs, strict=True):
        print(f"--- concurrent release exited {code}\n{output}")
    assert sorted(codes) == [RELEASED, REFUSED], codes
    refused = outputs[codes.index(REFUSED)]
    assert "the release lock on 'proof' is held by" in refused
    current = world.stage.assert_consistent()
    assert current.endswith(world.version("v3")) and world.stage.previous() == before
    assert world.stage.schema_revision() == V3 and "more" in world.stage.columns("payments")
    assert world.records() == records + 1, "only the release that held the lock is recorded"


# --- rolling back ---------------------------------------------------------------------------------------------


@V3_ONWARDS
@pytest.mark.timeout(1200)  # up to four releases, two of them watching a whole gate window (a hang guard)
def test_inconclusive_gates_hold_the_release_or_fail_it_as_the_environment_says(world: World):
    raw = yaml.safe_load(world.fab.env_file.read_text())
    unreachable = {**raw["gates"], "min_requests": 10**6, "min_payments": 10**6}
    hold = derive_environment(world.base / "hold.yml", raw, gates=unreachable, inconclusive="hold")
    fail = derive_environment(world.base / "fail.yml", raw, gates=unreachable, inconclusive="fail")
    world.released("v3")

    held = world.release("v4", env_file=hold)
    assert held.code == HELD, held
    assert "held for a person" in held.output
    current = world.stage.assert_consistent()
    assert current.endswith(world.version("v4")), "a held release stays deployed for a person to judge"
    assert world.last_record()["outcome"] == "held" and world.last_record()["gate_verdict"] == "inconclusive"

    back = world.fab.run("rollback", "--reason", "the person judged the held release", env_file=hold)
    assert back.code == RELEASED, back  # a held release is the person's to finish or to return from
    before = world.stage.assert_consistent()
    assert before.endswith(world.version("v3"))
    failed = world.release("v4", env_file=fail)
    assert failed.code == ROLLED_BACK, failed
    world.stage.assert_consistent(before)


@V3_ONWARDS
@pytest.mark.timeout(600)  # alone, v3 is released first
def test_a_release_held_for_signoff_is_promoted_once_the_boxes_are_signed(world: World):
    raw = yaml.safe_load(world.fab.env_file.read_text())
    strict = derive_environment(world.base / "signed.yml", raw, checks={**raw["checks"], "unsigned": "fail"})
    items = {i.id: i for i in load()}
    manual = {phase: [i.id for i in items.values() if i.kind == "manual" and i.phase == phase] for phase in PHASES}
    audit = AuditLog(StateLayout(world.fab.state).audit_log("proof"))
    for item in manual["pre-deploy"]:  # signed for the version before it is released (fab signoff: tests/checks)
        signoffs.record(
            audit, "proof", items[item], "Wanjiru", release=world.version("v4"), valid_for=timedelta(hours=1)
        )
    world.released("v3")

    held = world.release("v4", env_file=strict)
    assert held.code == HELD and "held for sign-off" in held.output, held
    record = world.last_record()
    assert record["outcome"] == "held" and sorted(record["hold"]["waiting_for"]) == sorted(manual["post-deploy"])
    world.stage.assert_consistent(record["release_id"])  # deployed, not rolled back

    still = world.fab.run("promote", env_file=strict)  # a later process finds the hold in the audit log
    assert still.code == HELD and manual["post-deploy"][0] in still.output, still
    for item in manual["post-deploy"]:  # for the held release by default
        assert world.fab.run("signoff", "--item", item, "--by", "Amina", env_file=strict).code == RELEASED
    promoted = world.fab.run("promote", env_file=strict)
    assert promoted.code == RELEASED, promoted
    assert world.last_record()["outcome"] == "released" and world.last_record()["promoted_from"]
    world.stage.assert_consistent(record["release_id"])
    assert world.stage.lock_holder() is None


@V3_ONWARDS
def test_rollback_returns_to_the_previous_release_in_seconds(world: World):
    current = world.any_release()
    if world.stage.previous() is None:  # only when this test runs alone: a release to return from
        current = world.released(world.other_than_current())
    previous = world.stage.previous()
    assert previous is not None and previous in world.stage.releases()
    result = world.fab.run("rollback", "--reason", "integration test")
    assert result.code == RELEASED, result
    print(f"fab rollback wall time: {result.seconds:.1f} s")
    world.stage.assert_consistent(previous)
    assert world.stage.previous() == current
    record = world.last_record()
    assert record["kind"] == "rollback" and record["from"] == current and record["release_id"] == previous
    assert record["reason"] == "integration test"
    # Fast because it builds, uploads, installs, backs up and migrates nothing (its time: bench/release.py)
    slow_work = re.findall(r"^\s*✓ (artifact|upload|install|backup|migrate)\b", result.output, flags=re.M)
    assert not slow_work, result.output

    back = world.fab.run("rollback", "--to", current)
    assert back.code == RELEASED, back
    world.stage.assert_consistent(current)

    unknown = world.fab.run("rollback", "--to", "20000101000000-000000000000")
    assert unknown.code == REFUSED, unknown
    assert "is not on the hosts" in unknown.output
    world.stage.assert_consistent(current)


def _kill_mid_deploy(world: World, tag: str) -> list[str]:
    """Starts `fab release --version tag` and SIGKILLs it in the deploy phase, just after `current` switched,
    while the first instance restarts: the instances are left on two releases."""
    first = world.stage.instance_urls()[0]
    running = _release_at(first)
    process = world.fab.start("release", "--version", tag)
    try:
        seen = output_until(process, "==> deploy", timeout=180)
        seen += output_until(process, "✓ switch", timeout=30)
        deadline = time.monotonic() + 30
        while _release_at(first) == running:  # until the first instance restarts (down, or up as the new release)
            assert time.monotonic() < deadline, f"{first} still runs {running} 30 s after the switch"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    print("--- killed release\n" + "".join(seen))
    return seen


def _release_at(url: str) -> str | None:
    try:
        return httpx.get(f"{url}/api/version", timeout=2).json()["release_id"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _wait_for_lock_expiry(world: World) -> float:
    ttl = world.stage.env.lock_ttl_seconds
    holder = world.stage.lock_holder()
    assert holder is not None and holder.reason == "release", "the killed release still holds the lock"
    with world.stage.db() as conn, pytest.raises(lock.LockHeld):
        lock.acquire(conn, world.stage.env.name, "another-controller@elsewhere", 60, "must wait")
    started = time.monotonic()
    while world.stage.lock_holder() is not None:
        assert time.monotonic() - started < ttl + 5, "the crashed release's lock did not expire"
        time.sleep(0.2)
    return time.monotonic() - started


@V3_ONWARDS
def test_release_killed_mid_deploy_then_rollback_restores_one_release(world: World):
    target = world.other_than_current()
    before = world.stage.current()
    _kill_mid_deploy(world, target)
    assert world.stage.current().endswith(world.version(target)), "killed after the switch"
    waited = _wait_for_lock_expiry(world)
    print(f"the killed release's lock expired {waited:.1f} s after the kill")
    result = world.fab.run("rollback", "--reason", "a release died mid-deploy")
    assert result.code == RELEASED, result
    world.stage.assert_consistent(before)
    status = world.fab.run("status")
    assert status.code == 0 and "lock: free" in status.output


@V3_ONWARDS
def test_release_killed_mid_deploy_then_the_next_release_completes(world: World):
    target = world.other_than_current()
    _kill_mid_deploy(world, target)
    _wait_for_lock_expiry(world)
    result = world.release(target)
    assert result.code == RELEASED, result
    assert "releasing it again" in result.output, "not a no-op: the instances did not all run it"
    current = world.stage.assert_consistent()
    assert current.endswith(world.version(target))


# --- feature rollout -----------------------------------------------------------------------------------------


@V3_ONWARDS
def test_flags_sets_and_shows_a_flag_through_the_admin_api(world: World):
    world.any_release()
    try:
        off = world.fab.run("flags", "--feature", FEATURE, "--disabled")
        assert off.code == 0, off
        assert world.stage.flag(FEATURE) == (False, 100)  # the percentage is kept
        on = world.fab.run("flags", "--feature", FEATURE, "--enabled", "--percentage", "25")
        assert on.code == 0, on
        assert world.stage.flag(FEATURE) == (True, 25)
        shown = world.fab.run("flags", "--feature", FEATURE)
        assert "'percentage': 25" in shown.output
        both = world.fab.run("flags", "--feature", FEATURE, "--enabled", "--disabled")
        assert both.code == 2
        assert world.last_record()["kind"] == "flag"
    finally:
        world.stage.set_flag(FEATURE, enabled=True, percentage=100)


@V3_ONWARDS
def test_rollout_steps_the_flag_10_50_100(world: World):
    world.any_release()
    result = world.fab.run("rollout", "--feature", FEATURE, env_file=world.rollout_env)
    assert result.code == RELEASED, result
    steps = [result.output.index(f"{FEATURE} at {p} %") for p in (10, 50, 100)]
    assert steps == sorted(steps)
    assert world.stage.flag(FEATURE) == (True, 100)
    record = world.last_record()
    assert record["kind"] == "rollout" and record["outcome"] == "rolled out"
    assert [(s["percentage"], s["verdict"]) for s in record["steps"]] == [(10, "pass"), (50, "pass"), (100, "pass")]


@V3_ONWARDS
def test_rollout_turns_the_flag_off_when_a_gate_fails(world: World):
    world.any_release()
    world.stage.simulator(spike_arrest=True)  # Daraja refuses every STK push: payments fail
    try:
        result = world.fab.run("rollout", "--feature", FEATURE, env_file=world.rollout_env)
        flag = world.stage.flag(FEATURE)
        record = world.last_record()
    finally:
        world.stage.simulator(spike_arrest=False)
        world.stage.set_flag(FEATURE, enabled=True, percentage=100)
    assert result.code == ROLLED_BACK, result
    assert f"gate failed at 10 %: {FEATURE} turned off" in result.output
    assert flag is not None and flag[0] is False
    assert record["kind"] == "rollout" and record["outcome"] == "turned off"
    assert record["steps"] == [{"percentage": 10, "verdict": "fail", "gate_source": "scrape"}]  # local: no Prometheus


# --- the audit log -----------------------------------------------------------------------------------------


@V3_ONWARDS
def test_tampered_audit_log_is_detected(world: World):
    world.any_release()
    while world.records() < 3:  # only when this test runs alone
        world.released(world.other_than_current())
    intact = world.fab.run("history")
    assert intact.code == 0, intact
    path = world.stage.audit.path
    original = path.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    assert len(lines) >= 3
    try:
        edited = json.loads(lines[1])
        edited["outcome"] = "released" if edited.get("outcome") != "released" else "rolled back"
        path.write_text("".join([lines[0], json.dumps(edited, sort_keys=True) + "\n", *lines[2:]]))
        result = world.fab.run("history")
        assert result.code == 1, result
        assert "audit log broken at line 2" in result.output and "hash does not match" in result.output

        path.write_text("".join([lines[0], *lines[2:]]))  # a record removed
        result = world.fab.run("history")
        assert result.code == 1, result
        assert "audit log broken at line 2" in result.output and "prev does not match" in result.output
    finally:
        path.write_bytes(original)
    assert world.fab.run("history").code == 0
