"""The `aws` CLI commands an operator runs to create an environment's secrets where its description says they live
(infra/ creates none: the values are the operator's). Built from the description's `secrets:` and keys.py, so the
names are written in one place each; printed by

    python -m foundation.secrets.commands production

Each value is read from a file the operator writes (`file://`), never typed on a command line; the template's
`<…>` values are placeholders, which preflight refuses until every one is replaced."""

from __future__ import annotations

import json
import shlex
import sys

import yaml

from foundation.environment import ENVIRONMENTS_DIR
from foundation.secrets.keys import OPTIONAL, REQUIRED
from foundation.secrets.source import SecretSource, parse_source


def template() -> str:
    """The JSON object a Secrets Manager secret holds, every value a placeholder to replace (optional keys apart)."""
    return json.dumps({key: f"<{key.removeprefix('vault_')}>" for key in REQUIRED}, indent=2)


def commands(source: SecretSource, file_stem: str = "secrets") -> list[str]:
    """The commands that create `source`'s secrets: one secret of JSON (read from `<file_stem>.json`), or one
    SecureString parameter per key (each read from `<file_stem>/<key>`)."""
    common = ["--region", str(source.region)] + (["--endpoint-url", source.endpoint_url] if source.endpoint_url else [])
    if source.source == "aws-secretsmanager":
        create = ["aws", "secretsmanager", "create-secret", *common, "--name", str(source.name)]
        return [shlex.join([*create, "--secret-string", f"file://{file_stem}.json"])]
    if source.source == "aws-ssm":
        path = str(source.name).rstrip("/")
        put = ["aws", "ssm", "put-parameter", *common, "--type", "SecureString"]
        return [
            shlex.join([*put, "--name", f"{path}/{key}", "--value", f"file://{file_stem}/{key}"]) for key in REQUIRED
        ]
    raise ValueError(f"{source.describe()} is not kept in AWS: nothing to create there")


def for_environment(name: str) -> SecretSource:
    raw = yaml.safe_load((ENVIRONMENTS_DIR / f"{name}.yml").read_text()) or {}
    return parse_source(raw.get("secrets", "generated"), f"environment {name}: secrets")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m foundation.secrets.commands <environment>", file=sys.stderr)
        return 2
    source = for_environment(argv[0])
    if not source.aws:
        print(f"environment {argv[0]}: secrets come from {source.source}, not from AWS", file=sys.stderr)
        return 2
    stem = f"golive-{argv[0]}-secrets"
    if source.source == "aws-secretsmanager":
        print(f"# {stem}.json, then fill in every value (optional keys: {', '.join(OPTIONAL)}):")
        print(template())
    else:
        print(f"# one file per key under {stem}/ (optional keys, same way: {', '.join(OPTIONAL)}):")
    print("\n".join(commands(source, stem)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
