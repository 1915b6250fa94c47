"""Reads a committed stack file (Pulumi.<stack>.yaml) the way the CLI hands config to the program:
every value a string, `secure:` values marked secret. Offline, a secret is a fixed stand-in value
(the committed files hold placeholders, never real secrets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def offline_secret(key: str) -> str:
    return f"offline-secret-for-{key}"


def stack_file(stack: str, repo: Path = REPO) -> Path:
    return repo / f"Pulumi.{stack}.yaml"


def stacks(repo: Path = REPO) -> list[str]:
    return sorted(p.name.split(".")[1] for p in repo.glob("Pulumi.*.yaml"))


def raw_config(stack: str, repo: Path = REPO) -> dict[str, Any]:
    document = yaml.safe_load(stack_file(stack, repo).read_text()) or {}
    return dict(document.get("config") or {})


def as_config_string(value: Any) -> str:
    """YAML scalars reach a Pulumi program as strings (true -> "true"); objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def load(stack: str, overrides: dict[str, Any] | None = None, repo: Path = REPO) -> tuple[dict[str, str], list[str]]:
    """(config, secret keys) for the stack, with `overrides` applied (a value of None removes the key)."""
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw_config(stack, repo).items():
        if isinstance(value, dict) and "secure" in value:
            config[key] = offline_secret(key)
            secret_keys.append(key)
        else:
            config[key] = as_config_string(value)
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
            secret_keys = [k for k in secret_keys if k != key]
        else:
            config[key] = as_config_string(value)
    return config, secret_keys
