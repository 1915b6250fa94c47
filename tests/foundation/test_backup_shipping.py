"""golive-backup sealing its dumps with a key and shipping them to the backup bucket, as the db host runs it: the
real program (its modules copied, the role's launcher, its settings) as a subprocess, under this venv's Python and
under Debian 12's python3 with Debian's psycopg, cryptography and boto3; a real PostgreSQL (the embedded one); a
real S3 API (moto's server on a loopback port, stopped by its PID). Round trip (taken, sealed, proven, shipped,
listed and restored from the bucket: the same rows), a wrong key, a changed object, a bucket out of reach — each
refused naming the file or the bucket, nothing restored — 0600 for every copy, no temporary file left, and neither
the key nor the AWS secret in anything it prints."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.db import migrator
from foundation.backups import dumps
from foundation.backups.dumps.shipping import PREFIX
from tests.support.backup_program import Host, add_payments, install, interpreter
from tests.support.processes import free_port
from tests.support.s3_server import CREDENTIALS, REGION, S3Server, s3_server

PAYMENTS = 6
PG_CUSTOM_MAGIC = b"PGDMP"  # how every pg_dump -Fc file begins


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module", params=["venv", "debian"])
def python(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    return interpreter(request.param)


def write_key(path: Path) -> str:
    secret = secrets.token_urlsafe(36)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


@pytest.fixture
def live(database_factory) -> str:
    url = database_factory("shipping")
    migrator.migrate(url)
    add_payments(url, PAYMENTS)
    return url


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "golive-backup.key"
    return path, write_key(path)


@pytest.fixture
def host(python: tuple[str, dict[str, str]], live: str, tmp_path: Path, s3: S3Server, key) -> Host:
    interpreter_path, extra = python
    program = install(tmp_path / "db", live, interpreter_path, {**extra, **CREDENTIALS})
    program.write_settings(key_file=str(key[0]), bucket=s3.new_bucket(), endpoint_url=s3.url, region=REGION)
    return program


def _settings(host: Host) -> dict:
    return json.loads(host.settings.read_text())


def _count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM payments").fetchone()
        assert row is not None
        return int(row[0])


def _delete_payments(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM payments")


def _every_file(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def _silent_about_secrets(done, key: str) -> None:
    said = done.stdout + done.stderr
    assert key not in said and CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in said


def test_a_release_backup_is_sealed_shipped_listed_and_restored_from_the_bucket(host: Host, s3: S3Server, key):
    bucket = _settings(host)["bucket"]
    released = host.run("release")
    assert released.returncode == 0, released.stderr
    answer = json.loads(released.stdout.splitlines()[-1])
    backup_id = answer["id"]
    sealed_name = f"{backup_id}.dump.sealed"
    assert answer["shipped"] == f"s3://{bucket}/{PREFIX}{sealed_name}"
    assert f"{backup_id} shipped to s3://{bucket}/" in released.stderr
    _silent_about_secrets(released, key[1])

    # Kept here sealed: only the sealed file and its manifest, 0600; no unsealed copy, no temporary file.
    kept = _every_file(host.folder)
    assert {path.name for path in kept} == {sealed_name, f"{backup_id}.json"}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in kept)
    sealed = (host.folder / sealed_name).read_bytes()
    assert not sealed.startswith(PG_CUSTOM_MAGIC) and PG_CUSTOM_MAGIC not in sealed[:4096]
    manifest = json.loads((host.folder / f"{backup_id}.json").read_text())
    assert manifest["sha256"] == answer["sha256"] != hashlib.sha256(sealed).hexdigest()
    assert manifest["sealed"] == {"sha256": hashlib.sha256(sealed).hexdigest(), "size": len(sealed)}

    # The bucket holds the same sealed file and its manifest.
    shipped = s3.objects(bucket)
    assert shipped == {PREFIX + sealed_name: sealed, f"{PREFIX}{backup_id}.json": manifest_bytes(host, backup_id)}

    # This host loses its copies: the bucket's are listed and restored.
    for path in kept:
        path.unlink()
    listed = host.answer("list", "--json")
    assert [summary["id"] for summary in listed["backups"]] == [backup_id]
    assert host.run("list").stdout.splitlines() == [f"s3://{bucket}/{PREFIX}{sealed_name}"]

    _delete_payments(host.url)
    restored = host.run("restore", "--sha256", answer["sha256"], "--", backup_id)
    assert restored.returncode == 0, restored.stderr
    _silent_about_secrets(restored, key[1])
    assert _count(host.url) == PAYMENTS
    replaced = json.loads(restored.stdout.splitlines()[-1])["replaced"]
    # What the restore replaced is kept here, sealed too; the copy fetched from the bucket is gone.
    assert {path.name for path in _every_file(host.folder)} == {f"{replaced}.dump.sealed", f"{replaced}.json"}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in _every_file(host.folder))


def manifest_bytes(host: Host, backup_id: str) -> bytes:
    return (host.folder / f"{backup_id}.json").read_bytes()


def test_the_timers_dump_is_shipped_and_its_restore_test_reads_the_bucket(host: Host, s3: S3Server, key):
    dumped = host.run("dump")
    assert dumped.returncode == 0, dumped.stderr
    assert "sealed with" in dumped.stderr and " shipped to s3://" in dumped.stderr
    _silent_about_secrets(dumped, key[1])
    (backup_id,) = {path.name.split(".")[0] for path in _every_file(host.folder)}
    assert f"{PREFIX}{backup_id}.dump.sealed" in s3.objects(_settings(host)["bucket"])
    for path in _every_file(host.folder):
        path.unlink()
    tested = host.run("restore-test")
    assert tested.returncode == 0, tested.stderr
    assert f"{backup_id} restores: " in tested.stderr and "counts match" in tested.stderr
    assert _every_file(host.folder) == [], "the copy fetched for the test is removed"


def test_another_key_is_refused_naming_the_file_and_nothing_is_restored(host: Host, tmp_path: Path, key):
    taken = host.answer("release")
    other = tmp_path / "other.key"
    other_secret = write_key(other)
    host.write_settings(**{**_settings(host), "key_file": str(other)})
    _delete_payments(host.url)

    for command in (["prove", "--", taken["id"]], ["restore", "--discard-replaced", "--", taken["id"]]):
        refused = host.run(*command)
        assert refused.returncode == 1
        assert f"{taken['id']}.dump.sealed was not sealed with the key in {other}" in refused.stderr
        _silent_about_secrets(refused, key[1])
        assert other_secret not in refused.stdout + refused.stderr
    assert "not restored, the database is as it was" in refused.stderr
    assert _count(host.url) == 0, "nothing restored"
    assert not [path for path in _every_file(host.folder) if not path.name.startswith(taken["id"])]


def test_a_changed_object_in_the_bucket_is_refused(host: Host, s3: S3Server):
    taken = host.answer("release")
    bucket = _settings(host)["bucket"]
    for path in _every_file(host.folder):
        path.unlink()
    sealed_key, manifest_key = f"{PREFIX}{taken['id']}.dump.sealed", f"{PREFIX}{taken['id']}.json"
    original = s3.objects(bucket)
    changed = bytearray(original[sealed_key])
    changed[len(changed) // 2] ^= 0x01
    client = s3.client()
    client.put_object(Bucket=bucket, Key=sealed_key, Body=bytes(changed))
    _delete_payments(host.url)

    refused = host.run("restore", "--discard-replaced", "--", taken["id"])
    assert refused.returncode == 1
    assert f"from s3://{bucket}/{sealed_key}: checksum mismatch (file {taken['id']}.dump.sealed: " in refused.stderr

    # Changed with its manifest's checksum to match: the chunk's own authentication refuses it.
    manifest = json.loads(original[manifest_key])
    manifest["sealed"]["sha256"] = hashlib.sha256(changed).hexdigest()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    refused = host.run("restore", "--discard-replaced", "--", taken["id"])
    assert refused.returncode == 1
    assert f"{taken['id']}.dump.sealed is cut off or changed in its last chunk (0): refused" in refused.stderr

    # The file as it was, its manifest's row counts changed: the manifest's mac refuses it.
    manifest = json.loads(original[manifest_key])
    manifest["row_counts"]["payments"] += 1
    client.put_object(Bucket=bucket, Key=sealed_key, Body=original[sealed_key])
    client.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    refused = host.run("prove", "--", taken["id"])
    assert refused.returncode == 1 and "its manifest was changed, or written with another key" in refused.stderr

    assert _count(host.url) == 0, "nothing restored"
    assert _every_file(host.folder) == [], "no copy of what was fetched is left"


def test_a_bucket_out_of_reach_fails_the_release_backup_naming_it(host: Host, key):
    closed = f"http://127.0.0.1:{free_port()}"
    host.write_settings(**{**_settings(host), "endpoint_url": closed})
    failed = host.run("release")
    assert failed.returncode == 1
    assert (
        f"release failed: backup bucket s3://{_settings(host)['bucket']} at {closed}: shipping backup " in failed.stderr
    )
    assert "Could not connect to the endpoint URL" in failed.stderr
    _silent_about_secrets(failed, key[1])
    assert not failed.stdout.strip(), "no answer: the controller's release stops before migrating"


def test_the_settings_refuse_a_bucket_without_a_key_and_a_key_others_can_read(host: Host, key):
    settings = _settings(host)
    host.write_settings(**{**settings, "key_file": ""})
    refused = host.run("settings")
    assert refused.returncode == 2 and "bucket needs key_file: backups leave the host only sealed" in refused.stderr

    key[0].chmod(0o640)
    host.write_settings(**settings)
    refused = host.run("settings")
    assert refused.returncode == 2
    assert f"the backup key file {key[0]} is readable by others (mode 0640): chmod 600 it" in refused.stderr
    assert key[1] not in refused.stdout + refused.stderr

    key[0].chmod(0o600)
    key[0].write_text("short\n")
    refused = host.run("release")
    assert refused.returncode == 2 and "is too short" in refused.stderr and "short\n" not in refused.stderr


def test_without_a_bucket_the_dump_stays_here_and_says_so(python, live: str, tmp_path: Path):
    program = install(tmp_path / "db", live, python[0], python[1])
    done = program.run("release")
    assert done.returncode == 0, done.stderr
    backup_id = json.loads(done.stdout.splitlines()[-1])["id"]
    assert done.stderr.count("no backup bucket set") == 1
    assert f"no backup bucket set: {backup_id} stays in {program.folder}" in done.stderr
    assert (program.folder / f"{backup_id}.dump").read_bytes().startswith(PG_CUSTOM_MAGIC)  # as before: not sealed
    assert stat.S_IMODE((program.folder / f"{backup_id}.dump").stat().st_mode) == 0o600


def test_a_sealed_file_cut_off_at_a_chunk_boundary_is_refused(tmp_path: Path, key):
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(dumps.sealing.CHUNK * 2 + 10))
    sealed = tmp_path / "sealed"
    read = dumps.read_key(key[0])
    dumps.sealing.seal(plain, sealed, read, "20260101T000000Z-abcdef")
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    opened = tmp_path / "opened"
    assert dumps.sealing.unseal(sealed, opened, read, "20260101T000000Z-abcdef")[0] == _sha256(plain)
    assert stat.S_IMODE(opened.stat().st_mode) == 0o600
    opened.unlink()

    whole = sealed.read_bytes()
    header = len(whole) - (dumps.sealing.CHUNK * 2 + 10) - 3 * dumps.sealing.TAG_BYTES
    sealed.write_bytes(whole[: header + 2 * (dumps.sealing.CHUNK + dumps.sealing.TAG_BYTES)])  # the last chunk gone
    with pytest.raises(dumps.SealBroken, match=f"{sealed} is cut off or changed in its last chunk"):
        dumps.sealing.unseal(sealed, opened, read, "20260101T000000Z-abcdef")
    assert not opened.exists(), "nothing half-opened is left"
    sealed.write_bytes(whole)
    with pytest.raises(dumps.SealBroken, match="is sealed as backup '20260101T000000Z-abcdef', not"):
        dumps.sealing.unseal(sealed, opened, read, "20260101T000000Z-000000")
    assert repr(read).find(key[1]) == -1, "the key is kept out of its repr"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
