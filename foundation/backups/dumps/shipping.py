"""The environment's backup bucket (the S3 bucket infra/backups.py creates; any S3 API at `endpoint_url`, the lab's
stand-in or a test's moto server): sealed backups shipped there, listed and fetched back.

Why boto3: the credentials are the environment's usual AWS chain (AWS_* variables, ~/.aws, the instance profile
through IMDSv2, SSO), and dumps larger than one PUT takes go up in parts; boto3 does both, in the controller's venv
and on the db host as Debian 12's `python3-boto3` (roles/backups installs it when a bucket is set). It is imported
only when a bucket is, so a host that keeps its backups to itself needs none of it. Nothing here prints a
credential: an error names the bucket, the endpoint and what the S3 API answered.

Objects: <PREFIX><id>.dump.sealed, then <PREFIX><id>.json (the manifest last: a listed backup has its file). Only
sealed backups are shipped; every copy fetched back is written 0600 into a private folder of the caller's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .backup import Backup, read_manifest, write_private
from .errors import BackupFailed, BackupNotFound

PREFIX = "golive-backup/"
CHUNK = 1024 * 1024


class ShipFailed(BackupFailed):
    """The bucket could not be reached, refused, or did not hold what it should; the message names the bucket."""


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint_url: str | None = None  # None: AWS's own (or AWS_ENDPOINT_URL_S3 where boto3 reads it)
    region: str | None = None  # None: the AWS chain's

    def describe(self) -> str:
        return f"s3://{self.name}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"


def _boto(bucket: Bucket) -> SimpleNamespace:
    """boto3 and what this module uses of botocore, imported on first use (module docstring: why)."""
    try:
        import boto3  # noqa: PLC0415
        from boto3.exceptions import S3UploadFailedError  # noqa: PLC0415
        from botocore import exceptions  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as exc:
        raise ShipFailed(f"backup bucket {bucket.describe()}: boto3 is not installed ({exc})") from None
    errors = (exceptions.BotoCoreError, exceptions.ClientError, S3UploadFailedError)
    return SimpleNamespace(boto3=boto3, Config=Config, exceptions=exceptions, errors=errors)


def _client(bucket: Bucket) -> Any:
    boto = _boto(bucket)
    config = boto.Config(
        connect_timeout=10,
        read_timeout=120,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"} if bucket.endpoint_url else {},
    )
    return boto.boto3.session.Session().client(
        "s3", endpoint_url=bucket.endpoint_url, region_name=bucket.region, config=config
    )


def _errors(bucket: Bucket) -> tuple[type[Exception], ...]:
    return _boto(bucket).errors


def _failure(bucket: Bucket, what: str, exc: Exception) -> ShipFailed:
    exceptions = _boto(bucket).exceptions
    if isinstance(exc, exceptions.NoCredentialsError):
        reason = "no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, or the instance profile)"
    elif isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    else:
        reason = str(exc) or type(exc).__name__
    return ShipFailed(f"backup bucket {bucket.describe()}: {what} failed: {reason}")


def ship(bucket: Bucket, backup: Backup, manifest: Path) -> str:
    """Uploads the sealed backup's file, then its manifest (the file at `manifest`); checks the upload's size.
    Returns the sealed object's s3:// URL."""
    if backup.sealed is None:
        raise ShipFailed(f"backup {backup.id} is not sealed: only sealed backups leave the host")
    client = _client(bucket)
    sealed_key, manifest_key = PREFIX + backup.path.name, f"{PREFIX}{backup.id}.json"
    try:
        client.upload_file(str(backup.path), bucket.name, sealed_key)
        size = int(client.head_object(Bucket=bucket.name, Key=sealed_key)["ContentLength"])
        if size != backup.sealed.size:
            raise ShipFailed(
                f"backup bucket {bucket.describe()}: {sealed_key} holds {size} bytes, not {backup.sealed.size}"
            )
        client.put_object(Bucket=bucket.name, Key=manifest_key, Body=manifest.read_bytes())
    except _errors(bucket) as exc:
        raise _failure(bucket, f"shipping backup {backup.id}", exc) from None
    return bucket.url(sealed_key)


def listed(bucket: Bucket, into: Path) -> list[Backup]:
    """Every backup in the bucket (from its manifest, fetched into `into`, a private folder), newest first."""
    client = _client(bucket)
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, Prefix=PREFIX):
            for item in page.get("Contents", []):
                name = str(item["Key"]).removeprefix(PREFIX)
                if "/" in name or not name.endswith(".json"):
                    continue
                body = client.get_object(Bucket=bucket.name, Key=item["Key"])["Body"].read()
                path = into / name
                write_private(path, body.decode("utf-8", errors="replace"))
                try:
                    found.append(read_manifest(path))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
    except _errors(bucket) as exc:
        raise _failure(bucket, "listing the backups", exc) from None
    return sorted(found, key=lambda backup: (backup.created_at, backup.id), reverse=True)


def fetch(bucket: Bucket, backup_id: str, into: Path) -> Backup:
    """The backup `backup_id` downloaded into `into` (a private folder): its manifest and sealed file, 0600."""
    client = _client(bucket)
    manifest = into / f"{backup_id}.json"
    try:
        try:
            body = client.get_object(Bucket=bucket.name, Key=f"{PREFIX}{backup_id}.json")["Body"].read()
        except client.exceptions.NoSuchKey:
            raise BackupNotFound(f"no backup {backup_id!r} in {bucket.describe()}") from None
        write_private(manifest, body.decode("utf-8", errors="replace"))
        try:
            backup = read_manifest(manifest)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ShipFailed(f"{bucket.url(PREFIX + backup_id + '.json')} is not a backup manifest ({exc})") from None
        if backup.id != backup_id or backup.sealed is None:
            raise ShipFailed(
                f"{bucket.url(PREFIX + backup_id + '.json')} is not the manifest of sealed backup {backup_id}"
            )
        stream = client.get_object(Bucket=bucket.name, Key=PREFIX + backup.path.name)["Body"]
        with os.fdopen(os.open(backup.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as sink:
            while chunk := stream.read(CHUNK):
                sink.write(chunk)
    except _errors(bucket) as exc:
        raise _failure(bucket, f"fetching backup {backup_id}", exc) from None
    return backup
