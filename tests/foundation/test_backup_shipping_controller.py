"""The controller's backups (foundation/backups/strategy.py, OnController: staging and production, whose stack
outputs name a backup bucket) sealed with the environment's vaulted key and shipped to that bucket, then listed and
restored by another controller from the bucket alone. Real parts: the embedded PostgreSQL, moto's S3 server on a
loopback port, ansible-vault opening a real vault file."""

from __future__ import annotations

import dataclasses
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from app.db import migrator
from foundation.backups import dumps, strategy
from foundation.environment import ENVIRONMENTS_DIR, parse_environment
from foundation.state import StateLayout
from tests.support.backup_program import add_payments
from tests.support.processes import free_port
from tests.support.s3_server import CREDENTIALS, REGION, S3Server, s3_server

PAYMENTS = 5


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def live(database_factory) -> str:
    url = database_factory("controller_shipping")
    migrator.migrate(url)
    add_payments(url, PAYMENTS)
    return url


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM payments").fetchone()
        assert row is not None
        return int(row[0])


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def _vault(state: Path, values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """state/secrets.yml encrypted by ansible-vault with a password file named by ANSIBLE_VAULT_PASSWORD_FILE."""
    state.mkdir(parents=True, exist_ok=True)
    password = state.parent / "vault-password-file"
    password.write_text(secrets.token_hex(16) + "\n")
    password.chmod(0o600)
    secrets_file = state / "secrets.yml"
    secrets_file.write_text(yaml.safe_dump(values))
    vault = Path(sys.executable).parent / "ansible-vault"
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    subprocess.run([str(vault), "encrypt", str(secrets_file)], check=True, capture_output=True)


def _staging_like(bucket: str):
    """The local description with the stack outputs' backup bucket and region (as staging's carry them)."""
    local = parse_environment(yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text()))
    return dataclasses.replace(local, outputs={"backup_bucket": bucket, "region": REGION})


def test_one_controller_ships_and_another_restores_from_the_bucket(live: str, tmp_path: Path, s3: S3Server, aws):
    key = dumps.key_from_text(secrets.token_urlsafe(40), "the test")
    bucket = dumps.Bucket(s3.new_bucket(), s3.url, REGION)
    first = strategy.OnController(live, tmp_path / "first", bucket, lambda: key)

    taken = first.take()

    assert taken.shipped == f"s3://{bucket.name}/golive-backup/{taken.id}.dump.sealed"
    assert taken.record()["shipped"] == taken.shipped
    assert "shipped to s3://" in taken.describe()
    assert set(s3.objects(bucket.name)) == {f"golive-backup/{taken.id}.dump.sealed", f"golive-backup/{taken.id}.json"}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in _files(tmp_path / "first"))

    other = strategy.OnController(live, tmp_path / "other", bucket, lambda: key)
    assert [found.id for found in other.list()] == [taken.id]
    assert other.find(taken.id).sha256 == taken.sha256
    assert other.prove(taken.id, sha256=taken.sha256).rows == taken.rows
    with psycopg.connect(live, autocommit=True) as conn:
        conn.execute("DELETE FROM payments")

    restored = other.restore(taken.id, sha256=taken.sha256)

    assert _count(live) == PAYMENTS
    kept = {path.name for path in _files(tmp_path / "other")}
    assert kept == {f"{restored['replaced']}.dump.sealed", f"{restored['replaced']}.json"}, "no fetched copy left"
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in _files(tmp_path / "other"))

    wrong = strategy.OnController(live, tmp_path / "wrong", bucket, lambda: dumps.key_from_text("x" * 40, "another"))
    with pytest.raises(strategy.FAILURES, match=f"{taken.id}.dump.sealed was not sealed with the key in another"):
        wrong.restore(taken.id)
    assert _count(live) == PAYMENTS


def test_staging_ships_to_its_stack_outputs_bucket_sealed_with_its_vaulted_key(
    live: str, tmp_path: Path, s3: S3Server, aws, monkeypatch: pytest.MonkeyPatch
):
    state = StateLayout(tmp_path / "state")
    env = _staging_like(s3.new_bucket())
    secret = secrets.token_urlsafe(40)
    _vault(state.environment(env.name), {strategy.KEY_NAME: secret, "vault_other": "x"}, monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)  # the AWS chain's way to another S3 API

    backups = strategy.for_environment(env, None, live, state)  # type: ignore[arg-type]

    assert isinstance(backups, strategy.OnController)
    assert backups.bucket == dumps.Bucket(env.outputs["backup_bucket"], region=REGION)
    assert backups.place == f"{state.backups(env.name)} and s3://{env.outputs['backup_bucket']}"
    taken = backups.take()
    assert taken.shipped and f"golive-backup/{taken.id}.json" in s3.objects(env.outputs["backup_bucket"])
    assert backups.store.key is not None and backups.store.key.secret == secret.encode()
    assert secret not in repr(backups.store)


def test_a_bucket_without_the_vaulted_key_is_refused_naming_it(
    tmp_path: Path, live: str, monkeypatch: pytest.MonkeyPatch
):
    state = StateLayout(tmp_path / "state")
    env = _staging_like("golive-staging-backups")
    _vault(state.environment(env.name), {"vault_other": "x"}, monkeypatch)
    backups = strategy.for_environment(env, None, live, state)  # type: ignore[arg-type]
    secrets_file = state.environment(env.name) / "secrets.yml"
    with pytest.raises(
        strategy.FAILURES,
        match=f"backups shipped to a bucket are sealed with vault_backup_key: {secrets_file} has no vault_backup_key",
    ):
        backups.take()


def test_a_bucket_out_of_reach_fails_the_take_naming_it_and_no_secret(
    live: str, tmp_path: Path, aws, capfd: pytest.CaptureFixture[str]
):
    key = dumps.key_from_text(secrets.token_urlsafe(40), "the test")
    closed = f"http://127.0.0.1:{free_port()}"
    backups = strategy.OnController(live, tmp_path, dumps.Bucket("golive-backups", closed, REGION), lambda: key)
    with pytest.raises(dumps.ShipFailed, match=f"backup bucket s3://golive-backups at {closed}: shipping backup ") as e:
        backups.take()
    said = str(e.value) + "".join(capfd.readouterr())
    assert key.secret.decode() not in said and CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in said
