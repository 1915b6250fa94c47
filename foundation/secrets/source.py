"""An environment's secret source, as its description declares it (`secrets:` in release/environments/<name>.yml):
a word for the sources the tooling reads from files (`generated`, `vault`, `pulumi`), or a mapping naming an AWS store:

    secrets: {source: aws-secretsmanager, name: golive/production, region: eu-west-1}
    secrets: {source: aws-ssm, name: /golive/production/, region: eu-west-1}

A Secrets Manager secret holds a JSON object of the keys (keys.py); an SSM path holds one parameter per key
(`<path><key>`, String or SecureString). `endpoint_url` points the same requests at another server speaking the
same API (moto's, for tests and a lab); without it boto3's own configuration decides (AWS_ENDPOINT_URL…)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from foundation.sections import SectionInvalid, parse_section

Kind = Literal["generated", "vault", "pulumi", "aws-secretsmanager", "aws-ssm"]
AWS = ("aws-secretsmanager", "aws-ssm")
# Sources held in the environment's Ansible Vault file, <state>/<env>/secrets.yml (generated: written per lab by
# playbooks/secrets.yml; vault: written by an operator).
VAULT_FILE = ("generated", "vault")


class SecretsUnavailable(Exception):
    """A source cannot be read, or lacks a key asked for; the message names the source and the key, never a value."""


@dataclass(frozen=True)
class SecretSource:
    source: Kind = "generated"
    name: str | None = None  # aws-secretsmanager: the secret's name or ARN; aws-ssm: the parameters' path (/…/)
    region: str | None = None  # aws-*: the region the store is in
    endpoint_url: str | None = None  # aws-*: another server with the same API (moto's); None: boto3's configuration

    def validate(self) -> None:
        if self.source in AWS:
            for key in ("name", "region"):
                if not getattr(self, key):
                    raise SectionInvalid(f"{key} is required for source {self.source}")
            if self.source == "aws-ssm" and not (self.name or "").startswith("/"):
                raise SectionInvalid(f"name is an SSM path beginning with '/' for source aws-ssm, not {self.name!r}")
        elif self.name or self.region or self.endpoint_url:
            raise SectionInvalid(f"name, region and endpoint_url belong to an AWS source, not to {self.source}")

    @property
    def aws(self) -> bool:
        return self.source in AWS

    def describe(self) -> str:
        """For a person: `aws-secretsmanager golive/production`, `vault`."""
        return f"{self.source} {self.name}" if self.aws else self.source


def parse_source(raw: Any, where: str) -> SecretSource:
    """`secrets:` as written: a source's word, or a mapping (source, name, region, endpoint_url)."""
    if isinstance(raw, str):
        raw = {"source": raw}
    return parse_section(SecretSource, raw, where)
