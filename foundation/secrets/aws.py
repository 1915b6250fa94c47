"""An AWS secret source's values by key: the request built apart (`request`, pure: what is asked, of which
service, needing which permission), then sent once through boto3 (`read`). Secrets Manager: GetSecretValue of
the named secret, a JSON object of keys. SSM Parameter Store: GetParametersByPath under the named path (decrypted,
one level, every page), each parameter's name after the path its key.

Every failure is SecretsUnavailable naming the source and what to fix: the endpoint out of reach, no credentials,
access denied, no such secret, a value of the wrong type. No value is ever in a message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from foundation.secrets.source import SecretSource, SecretsUnavailable

# A source out of reach is said within seconds, not after boto3's default minute of retries.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
CREATE = "python -m foundation.secrets.commands <env> (infra/README.md, 'Secrets')"


@dataclass(frozen=True)
class Request:
    service: str  # boto3's client name
    operation: str  # the client's method
    params: dict[str, Any]
    permission: str  # the IAM action the controller's identity needs


def request(source: SecretSource) -> Request:
    assert source.name is not None
    if source.source == "aws-secretsmanager":
        return Request("secretsmanager", "get_secret_value", {"SecretId": source.name}, "secretsmanager:GetSecretValue")
    if source.source == "aws-ssm":
        params = {"Path": source.name, "Recursive": False, "WithDecryption": True}
        return Request("ssm", "get_parameters_by_path", params, "ssm:GetParametersByPath")
    raise ValueError(f"{source.source} is not an AWS secret source")


def read(source: SecretSource) -> dict[str, Any]:
    """The source's values by key, as the store typed them (a JSON number stays a number, a StringList a list)."""
    asked = request(source)
    client = boto3.client(
        asked.service, region_name=source.region, endpoint_url=source.endpoint_url, config=CLIENT_CONFIG
    )
    try:
        if asked.service == "ssm":
            pages = client.get_paginator(asked.operation).paginate(**asked.params)
            return _parameters(source, [item for page in pages for item in page.get("Parameters", [])])
        return _secret_object(source, client.get_secret_value(**asked.params))
    except ClientError as exc:
        raise SecretsUnavailable(_refused(source, asked, exc)) from None
    except NoCredentialsError:
        raise SecretsUnavailable(
            f"{_where(source)}: no AWS credentials on this controller; set AWS_PROFILE (or the AWS_* variables) to "
            f"an identity allowed {asked.permission}"
        ) from None
    except EndpointConnectionError:
        raise SecretsUnavailable(
            f"{_where(source)}: cannot reach {_endpoint(client)}; check the region ({source.region}), "
            "endpoint_url and this controller's network"
        ) from None
    except BotoCoreError as exc:
        raise SecretsUnavailable(f"{_where(source)}: {type(exc).__name__} at {_endpoint(client)}") from None


def _where(source: SecretSource) -> str:
    return f"{source.describe()} ({source.region})"


def _endpoint(client: Any) -> str:
    return str(client.meta.endpoint_url)


def _refused(source: SecretSource, asked: Request, exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code", "?")
    where = _where(source)
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        return f"{where}: access denied ({code}); the controller's AWS identity needs {asked.permission} on it"
    if code == "ResourceNotFoundException":
        return f"{where}: no such secret in {source.region}; create it: {CREATE}"
    if code in ("DecryptionFailure", "KMSAccessDeniedException"):
        return f"{where}: its KMS key would not decrypt it ({code}); the identity needs kms:Decrypt on that key"
    return f"{where}: {asked.service} answered {code}"


def _secret_object(source: SecretSource, answer: dict[str, Any]) -> dict[str, Any]:
    text = answer.get("SecretString")
    if text is None:
        raise SecretsUnavailable(f"{_where(source)}: wrong type, a binary secret, not a JSON object of keys")
    try:
        values = json.loads(text)
    except ValueError:
        raise SecretsUnavailable(f"{_where(source)}: wrong type, plain text, not a JSON object of keys") from None
    if not isinstance(values, dict):
        kind = type(values).__name__
        raise SecretsUnavailable(f"{_where(source)}: wrong type, a JSON {kind}, not a JSON object of keys")
    return {str(key): value for key, value in values.items()}


def _parameters(source: SecretSource, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    assert source.name is not None
    prefix = source.name.rstrip("/") + "/"
    values: dict[str, Any] = {}
    for parameter in parameters:
        key = str(parameter["Name"]).removeprefix(prefix)
        value = parameter.get("Value")
        values[key] = value.split(",") if parameter.get("Type") == "StringList" and value is not None else value
    return values
