"""A real Secrets Manager and SSM Parameter Store API for the secret sources' tests: moto's server in this process
(ThreadedMotoServer) on a loopback port, stopped by whoever started it. moto keeps its state per process, shared by
every server in it: a test makes its own secret or path, and a secret's fixed name (golive/production) is replaced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from foundation.secrets.source import SecretSource

REGION = "eu-west-1"
# moto checks no credential; these only let boto3 sign (a test's own, not a secret).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "golive-test-access-key", "AWS_SECRET_ACCESS_KEY": "golive-test-secret-key-0123"}


@dataclass
class SecretsServer:
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def secret(self, values: Any, name: str | None = None, *, binary: bool = False) -> SecretSource:
        """A Secrets Manager secret holding `values` (JSON unless already text), and its source."""
        name = name or f"golive/test-{uuid.uuid4().hex[:12]}"
        client = self.client("secretsmanager")
        # moto's state is the process's: a name an earlier test gave (another server in this process) is replaced.
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        if binary:
            client.create_secret(Name=name, SecretBinary=b"\x00\x01")
        else:
            text = values if isinstance(values, str) else json.dumps(values)
            client.create_secret(Name=name, SecretString=text)
        return SecretSource("aws-secretsmanager", name, REGION, self.url)

    def parameters(self, values: dict[str, str], *, kinds: dict[str, str] | None = None) -> SecretSource:
        """One parameter per key under a new path (SecureString unless `kinds` says), and its source."""
        path = f"/golive/test-{uuid.uuid4().hex[:12]}/"
        ssm = self.client("ssm")
        for key, value in values.items():
            ssm.put_parameter(Name=path + key, Value=value, Type=(kinds or {}).get(key, "SecureString"))
        return SecretSource("aws-ssm", path, REGION, self.url)


@contextmanager
def secrets_server() -> Iterator[SecretsServer]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # returns once the server listens
    try:
        host, port = server.get_host_and_port()
        yield SecretsServer(f"http://{host}:{port}")
    finally:
        server.stop()
