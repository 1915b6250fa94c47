"""Settings and secrets (read from the settings file as the service loads them, never shown), M-Pesa
credentials against the Daraja simulator, the database and migrations (`python -m app.db`), and backups
proven by a real restore into a scratch database — each with its failing case. The backups' checks ask wherever
the environment keeps them: the controller's folder, or the db host's golive-backup (here the real program,
installed as roles/backups installs it, behind a transport standing in for the db host)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import yaml

from app.db import migrator
from checks import backups, database, releases, settings
from checks.context import Context
from checks.model import Status
from foundation.backups import dumps as release_backup
from foundation.environment import ENVIRONMENTS_DIR, parse_environment
from foundation.transport import CommandResult, HostUnreachable
from tests.support.backup_program import DbHostHere, install
from tests.support.lab_outputs import lab_state_in
from tests.support.settings_file import PRODUCTION, SECRETS, write_settings
from tests.support.simulator import CONSUMER_KEY, CONSUMER_SECRET


@pytest.fixture
def production(make_context):
    return make_context(name="production", entry_url="https://pay.example.com")


def _no_secret_in(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text


def test_complete_production_settings_pass_without_showing_a_value(production):
    write_settings(production.env.root, PRODUCTION)
    result = settings.required(production, {})
    assert result.status == Status.PASS, result.detail
    assert "GOLIVE_CALLBACK_SECRET" in result.detail
    _no_secret_in(result.detail + result.command)
    assert settings.mpesa_production(production, {}).status == Status.PASS
    assert settings.callback_url(production, {}).status == Status.PASS


def test_a_missing_secret_fails_naming_it(production):
    write_settings(production.env.root, {k: v for k, v in PRODUCTION.items() if k != "GOLIVE_CALLBACK_SECRET"})
    result = settings.required(production, {})
    assert result.status == Status.FAIL and "missing: GOLIVE_CALLBACK_SECRET" in result.detail
    _no_secret_in(result.detail)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("GOLIVE_DARAJA_SHORTCODE", "CHANGE-ME", "GOLIVE_DARAJA_SHORTCODE (a placeholder)"),
        ("GOLIVE_PUBLIC_BASE_URL", "https://CHANGE-ME.example", "GOLIVE_PUBLIC_BASE_URL (a placeholder)"),
        ("GOLIVE_CALLBACK_SECRET", "<the callback secret>", "GOLIVE_CALLBACK_SECRET (a placeholder)"),
        ("GOLIVE_CHAIN_RPC_URL", "", "GOLIVE_CHAIN_RPC_URL (empty)"),
        ("GOLIVE_CORS_ORIGINS", "TODO", "GOLIVE_CORS_ORIGINS (a placeholder)"),  # any setting, not only required ones
    ],
)
def test_an_empty_or_placeholder_setting_fails_naming_it(production, key, value, named):
    write_settings(production.env.root, {**PRODUCTION, key: value})
    result = settings.required(production, {})
    assert result.status == Status.FAIL
    assert result.detail == f"not filled in: {named} (values not shown)"
    _no_secret_in(result.detail + result.command)


def test_a_setting_the_service_refuses_fails_with_its_message(production):
    write_settings(production.env.root, {**PRODUCTION, "GOLIVE_CALLBACK_SECRET": "short-secret-1"})
    result = settings.required(production, {})
    assert result.status == Status.FAIL
    assert "GOLIVE_CALLBACK_SECRET must be at least 32 characters" in result.detail
    assert "short-secret-1" not in result.detail


def test_sandbox_values_in_production_and_a_foreign_callback_url_fail(production):
    sandbox = {**PRODUCTION, "GOLIVE_DARAJA_SHORTCODE": "174379", "GOLIVE_PUBLIC_BASE_URL": "https://other.example"}
    del sandbox["GOLIVE_DARAJA_PASSKEY"]
    write_settings(production.env.root, sandbox)
    result = settings.mpesa_production(production, {})
    assert result.status == Status.FAIL and "SHORTCODE is the sandbox's" in result.detail and "PASSKEY" in result.detail
    assert settings.callback_url(production, {}).status == Status.FAIL


def test_a_world_readable_settings_file_fails(production):
    write_settings(production.env.root, PRODUCTION, mode=0o644)
    result = settings.secured(production, {})
    assert result.status == Status.FAIL and "readable by every user (mode 644)" in result.detail
    write_settings(production.env.root, PRODUCTION, mode=0o600)
    assert settings.secured(production, {}).status == Status.PASS


def test_error_tracking_needs_a_sentry_dsn_in_production_and_never_shows_its_key(make_context):
    def judged(values: dict[str, str], name: str = "production"):
        ctx = make_context(name=name, entry_url="https://pay.example.com")  # settings are read once per context
        write_settings(ctx.env.root, values)
        return settings.error_tracking(ctx, {})

    missing = judged(PRODUCTION)
    assert missing.status == Status.FAIL and "GOLIVE_SENTRY_DSN is not set" in missing.detail
    configured = judged({**PRODUCTION, "GOLIVE_SENTRY_DSN": "https://sentry-key-0a1b2c@o42.ingest.example/7"})
    assert configured.status == Status.PASS, configured.detail
    assert "o42.ingest.example, project 7" in configured.detail and "sentry-key-0a1b2c" not in configured.detail
    malformed = judged({**PRODUCTION, "GOLIVE_SENTRY_DSN": "sentry-key-0a1b2c"})
    assert malformed.status == Status.FAIL and "sentry-key-0a1b2c" not in malformed.detail
    assert judged({"GOLIVE_ENV": "local"}, name="local").status == Status.NOT_APPLICABLE


def test_mpesa_credentials_are_verified_against_daraja(make_context, sim):
    ctx = make_context()
    values = {"GOLIVE_DARAJA_BASE_URL": sim.url, "GOLIVE_DARAJA_CONSUMER_KEY": CONSUMER_KEY}
    write_settings(ctx.env.root, {**values, "GOLIVE_DARAJA_CONSUMER_SECRET": CONSUMER_SECRET})
    result = settings.mpesa_credentials(ctx, {})
    assert result.status == Status.PASS, result.detail
    ctx = make_context()
    write_settings(ctx.env.root, {**values, "GOLIVE_DARAJA_CONSUMER_SECRET": "wrong-secret-000000"})
    result = settings.mpesa_credentials(ctx, {})
    assert result.status == Status.FAIL and "refused our credentials" in result.detail
    assert "wrong-secret-000000" not in result.detail


def test_database_at_head_and_verified(make_context, db_url):
    ctx = make_context(db_url=db_url)
    write_settings(ctx.env.root, {"GOLIVE_DATABASE_URL": db_url})
    assert database.reachable(ctx, {}).status == Status.PASS
    head = database.at_head(ctx, {})
    assert head.status == Status.PASS and head.value == migrator.head_revision()
    assert database.verify(ctx, {}).status == Status.PASS
    assert database.latency(ctx, {}).status == Status.PASS


def test_an_empty_database_or_another_database_fails(make_context, database_factory, db_url):
    empty = database_factory("checks_empty")
    ctx = make_context(db_url=empty)
    write_settings(ctx.env.root, {"GOLIVE_DATABASE_URL": db_url})
    assert database.reachable(ctx, {}).status == Status.FAIL  # the service would use another database
    result = database.verify(ctx, {})
    assert result.status == Status.FAIL and "no schema yet" in result.detail
    assert database.at_head(ctx, {}).status == Status.FAIL


def test_the_recovery_worker_must_hold_a_live_lease(make_context, database_factory):
    url = database_factory("checks_worker")
    migrator.migrate(url)
    ctx = make_context(db_url=url)
    never = database.worker_leader(ctx, {})
    assert never.status == Status.FAIL and "not running" in never.detail
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO worker_leases (role, holder, fence, expires_at)"
            " VALUES ('recovery', 'web1:42', 3, now() - interval '30 seconds')"
        )
        expired = database.worker_leader(ctx, {})
        assert expired.status == Status.FAIL and "expired" in expired.detail and "web1:42" in expired.detail
        conn.execute("UPDATE worker_leases SET expires_at = now() + interval '5 seconds'")
    live = database.worker_leader(ctx, {})
    assert live.status == Status.PASS and live.value == "web1:42"


@pytest.fixture
def with_backup(make_context, database_factory):
    url = database_factory("checks_backup")
    migrator.migrate(url)
    ctx = make_context(db_url=url)
    taken = release_backup.take(url, ctx.state.backups("local"))
    return ctx, taken


@pytest.mark.slow
def test_a_recent_backup_that_restores_passes(with_backup):
    ctx, taken = with_backup
    result = backups.recent(ctx, {})
    assert result.status == Status.PASS, result.detail
    assert taken.id in result.detail and "counts equal" in result.detail
    assert backups.intact(ctx, {}).status == Status.PASS


def test_no_backup_fails(make_context, db_url):
    result = backups.recent(make_context(db_url=db_url), {})
    assert result.status == Status.FAIL and "fab backup" in result.detail


@pytest.mark.slow
def test_a_damaged_backup_fails(with_backup):
    ctx, taken = with_backup
    with taken.path.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"garbage!")
    result = backups.recent(ctx, {})
    assert result.status == Status.FAIL and "checksum mismatch" in result.detail
    assert backups.intact(ctx, {}).status == Status.FAIL


def test_an_old_backup_fails(with_backup):
    ctx, taken = with_backup
    manifest = taken.path.with_suffix(".json")
    data = json.loads(manifest.read_text())
    data["created_at"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    manifest.write_text(json.dumps(data))
    result = backups.recent(ctx, {})
    assert result.status == Status.FAIL and "h old (at most 26 h)" in result.detail


@dataclass
class Kept:
    """A context whose environment keeps its backups in `folder` (on the controller, or on its db host), and a
    way to take one there."""

    ctx: Context
    folder: Path
    take: Callable[[], release_backup.Backup]


def _lab(tmp_path: Path, db: object) -> Context:
    """The lab's environment (backup_host: db) with `db` as its db host's transport, and no database URL: the
    host proves its own backups."""
    state = lab_state_in(tmp_path / "state")  # the lab's stack outputs in it, as `fab lab.up` writes them
    lab = parse_environment(yaml.safe_load((ENVIRONMENTS_DIR / "lab.yml").read_text()), state=state)
    assert lab.backup_host == "db"
    ctx = Context(lab, None, state=state)
    ctx.fleet = SimpleNamespace(transports={"db": db})
    return ctx


def _on_db_host(tmp_path: Path, url: str) -> Kept:
    program = install(tmp_path / "db", url, sys.executable)
    ctx = _lab(tmp_path, DbHostHere(program))
    return Kept(ctx, program.folder, lambda: release_backup.find(program.folder, program.answer("release")["id"]))


@pytest.fixture(params=["controller", "db host"])
def kept(request, make_context, database_factory, tmp_path: Path) -> Kept:
    url = database_factory("checks_kept")
    migrator.migrate(url)
    if request.param == "db host":
        return _on_db_host(tmp_path, url)
    ctx = make_context(db_url=url)
    folder = ctx.state.backups("local")
    return Kept(ctx, folder, lambda: release_backup.take(url, folder))


@pytest.mark.slow
def test_backups_are_checked_where_the_environment_keeps_them(kept: Kept):
    ctx = kept.ctx
    place = str(kept.folder) if ctx.env.backup_host is None else "golive-backup's folder on db"
    none = backups.recent(ctx, {})
    assert none.status == Status.FAIL and none.detail.startswith(f"no backup in {place}: take one with `fab backup")
    assert backups.intact(ctx, {}).detail == f"no backup in {place}"
    assert releases.rto_rpo(ctx, {}).status == Status.FAIL

    older, newer = kept.take(), kept.take()
    ctx.now = datetime.now(UTC)  # the checks' clock, read once per run: after the backups
    ctx.record = {"release_id": "r1", "backup": {"id": older.id, "sha256": older.sha256, "rows": 5}}

    recent = backups.recent(ctx, {})
    assert recent.status == Status.PASS, recent.detail
    assert recent.detail.startswith(f"backup {newer.id}, 0.0 h old, restored into a scratch database: ")
    assert f"{len(newer.row_counts)} tables, {sum(newer.row_counts.values())} rows, counts equal" in recent.detail
    assert backups.intact(ctx, {}).detail == "2 of 2 backups intact (100 %)"
    taken = releases.backup_taken(ctx, {})
    assert taken.status == Status.PASS and taken.detail.startswith(f"backup {older.id} (")
    ctx.audit.append({"kind": "rollback", "outcome": "rolled back", "timings": {"deploy": 4.2}})
    rpo = releases.rto_rpo(ctx, {})
    assert rpo.status == Status.PASS and rpo.detail.endswith("; newest backup 0.0 h old (RPO 24 h)"), rpo.detail

    for damaged in (newer, older):
        damaged.path.write_bytes(damaged.path.read_bytes()[:-10])
    recent = backups.recent(ctx, {})
    assert recent.status == Status.FAIL and f"backup {newer.id} does not restore: " in recent.detail
    assert "checksum mismatch" in recent.detail
    intact = backups.intact(ctx, {})
    assert intact.status == Status.FAIL and intact.detail.startswith("2 of 2 backups damaged or missing: ")
    taken = releases.backup_taken(ctx, {})
    assert taken.status == Status.FAIL
    assert taken.detail.startswith(f"backup {older.id}'s file does not match the recorded sha256 (checksum mismatch")

    ctx.record = {"release_id": "r1", "backup": {"id": "20000101T000000Z-000000", "sha256": "ab" * 32}}
    gone = releases.backup_taken(ctx, {})
    assert gone.status == Status.FAIL and gone.detail.startswith(f"no backup '20000101T000000Z-000000' in {place};")


class Unreachable:
    host = "db"

    def run(self, command: str, **kwargs) -> CommandResult:
        raise HostUnreachable("db: [Errno 113] No route to host")


class WithoutTheProgram:
    host = "db"

    def run(self, command: str, **kwargs) -> CommandResult:
        return CommandResult(127, "sudo: /usr/local/sbin/golive-backup: command not found\n")


@pytest.mark.parametrize(
    ("transport", "status", "detail"),
    [
        (Unreachable(), Status.UNVERIFIED, "could not check: db: [Errno 113] No route to host"),
        (
            WithoutTheProgram(),
            Status.FAIL,
            "db: golive-backup list failed (exit 127): sudo: /usr/local/sbin/golive-backup: command not found",
        ),
    ],
)
def test_a_db_host_that_cannot_answer_is_named(tmp_path: Path, transport, status: Status, detail: str):
    ctx = _lab(tmp_path, transport)
    ctx.record = {"release_id": "r1", "backup": {"id": "20000101T000000Z-000000", "sha256": "ab" * 32}}
    for result in (backups.recent(ctx, {}), releases.backup_taken(ctx, {}), releases.rto_rpo(ctx, {})):
        assert result.status == status and detail in result.detail, result
    verify = detail.replace("list", "verify")
    assert backups.intact(ctx, {}).status == status and verify in backups.intact(ctx, {}).detail
