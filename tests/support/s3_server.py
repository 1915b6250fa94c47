"""A real S3 API for the backup bucket's tests: moto's server as a subprocess on a loopback port (the AWS bucket
cannot be reached here), stopped by its PID. Its buckets live as long as it does; each test makes its own."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from tests.support.processes import answers, free_port, stop_process, wait_until

REGION = "eu-west-1"
# moto checks no credential; these only let boto3 sign (a test's own, not a secret).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "golive-test-access-key", "AWS_SECRET_ACCESS_KEY": "golive-test-secret-key-0123"}


@dataclass
class S3Server:
    process: subprocess.Popen
    url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"golive-backups-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Its request log goes to a temporary file (a pipe nobody reads would fill and stall it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            wait_until(lambda: process.poll() is not None or answers(f"{url}/moto-api/"), f"moto's server on {url}")
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"moto's server exited {process.returncode}: {log.read().decode()[-2000:]}")
            yield S3Server(process, url)
        finally:
            stop_process(process)
