"""What a check may look at: the environment (targets come from its description), its database, the
controller's state (audit log, backups, reports), the release being made, and the hosts' transports."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from checks import config
from foundation import host_commands
from foundation.audit import AuditLog
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.holds import held_release
from foundation.instance_endpoints import InstanceEndpoints
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from foundation.transport import Transport

STRICT = ("staging", "production")


@dataclass
class Context:
    env: Environment
    db_url: str | None = None
    repo: Path = REPO_ROOT
    state: StateLayout = field(default_factory=StateLayout.default)
    record: dict[str, Any] | None = None  # the release being made (during `fab release`)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @cached_property
    def config(self) -> dict[str, Any]:
        return config.merged(self.env.checks)

    @property
    def strict(self) -> bool:
        return self.env.name in STRICT

    @cached_property
    def fleet(self) -> Fleet:
        return Fleet.of(self.env)

    @property
    def instances(self) -> InstanceEndpoints:
        """Where each service instance answers (through SSH forwards off the local environment)."""
        return self.fleet.endpoints

    def close(self) -> None:
        """Stops what the checks opened to reach the instances."""
        if "fleet" in self.__dict__:
            self.fleet.endpoints.close()

    def transport(self, host: str) -> Transport:
        return self.fleet.transports[host]

    def path(self, value: str) -> Path:
        """A controller path from the configuration: relative ones are under the repository."""
        path = Path(value)
        return path if path.is_absolute() else self.repo / path

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.state.audit_log(self.env.name))

    def last_release(self) -> dict[str, Any] | None:
        """The release being made, else the newest audit record of a release that was released."""
        if self.record is not None:
            return self.record
        for entry in reversed(self.audit.entries()):
            if entry.get("kind") == "release" and entry.get("outcome") == "released":
                return entry
        return None

    def release_under_check(self) -> dict[str, Any] | None:
        """The release a sign-off must cover: the one being made (or promoted), else the one held for a person,
        else the newest released."""
        if self.record is not None:
            return self.record
        return held_release(self.audit) or self.last_release()

    @property
    def entry(self) -> str:
        return self.env.entry_url

    @property
    def entry_host(self) -> str:
        return urlsplit(self.env.entry_url).hostname or ""

    @property
    def tls_verify(self) -> bool | str:
        """What an HTTPS client trusts: the configured CA bundle, else the system's in staging/production;
        elsewhere (local, lab without a CA file) certificates are examined by the TLS checks instead."""
        if self.config["tls_ca_file"]:
            return str(self.path(self.config["tls_ca_file"]))
        return self.strict

    def http(self, base: str | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=base or self.entry, timeout=kwargs.pop("timeout", 10), verify=self.tls_verify)

    @property
    def settings_file(self) -> str:
        return self.fleet.layout.env_file

    def read_host_file(self, host: str, path: str) -> str:
        return self.transport(host).run(f"cat {shlex.quote(path)}", timeout=20).output

    @cached_property
    def service_settings(self) -> dict[str, str]:
        """The service's settings file on the first web host (values are secrets: never print them)."""
        command = host_commands.settings(self.fleet.layout)
        return parse_env_file(self.transport(self.env.web_hosts[0]).run(command, timeout=20).output)


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines (a systemd EnvironmentFile or a shell `set -a` file); quotes around a value removed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values
