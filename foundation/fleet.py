"""The hosts of an environment as the engine sees them: a transport per host, the layout on it, what
it runs now, and waiting for an instance to answer as a given release."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import httpx

from foundation import host_commands
from foundation.environment import Environment
from foundation.instance_endpoints import InstanceEndpoints, name
from foundation.repository import REPO_ROOT
from foundation.ssh_access import SshAccess
from foundation.transport import LocalTransport, SshTransport, Transport

LOCAL_HELPER = REPO_ROOT / "roles/app/files/golive-release"  # what roles/app installs at host_commands.HELPER


@dataclass(frozen=True)
class Deployed:
    """What an environment runs now (read from the hosts before planning)."""

    current: str | None = None  # release id behind the `current` symlink
    current_version: str | None = None
    previous: str | None = None
    releases: tuple[str, ...] = ()  # every release directory, oldest first
    drained: tuple[str, ...] = ()  # web hosts out of the balancer's rotation (asked of the balancer, when it matters)
    hosts: Mapping[str, str | None] = field(default_factory=dict)  # each web host's `current` (None: no release)

    @property
    def behind(self) -> dict[str, str | None]:
        """Web hosts not on the fleet's release (replaced or added: no release; or on another one), with theirs."""
        if self.current is None:
            return {}
        return {host: release for host, release in self.hosts.items() if release != self.current}

    def lag(self, host: str) -> str:
        """How a host behind is behind: `no release`, or `has r2, fleet is on r3`."""
        release = self.hosts.get(host)
        return f"has {release}, fleet is on {self.current}" if release else "no release"


class HealthTimeout(Exception):
    pass


class FleetSplit(Exception):
    """Web hosts run different releases: the engine refuses to guess which one is current."""


@dataclass
class Fleet:
    env: Environment
    transports: dict[str, Transport]
    layout: host_commands.Layout

    @classmethod
    def of(cls, env: Environment) -> Fleet:
        hosts = [host for names in env.hosts.values() for host in names]
        if env.is_local:
            transports: dict[str, Transport] = {host: LocalTransport(host) for host in hosts}
            # The targets' interpreter here is this one's base interpreter (a venv cannot nest); the privileged steps'
            # program runs as this user, on this root.
            python = getattr(sys, "_base_executable", sys.executable)
            helper = f"{host_commands.q(python)} {host_commands.q(LOCAL_HELPER)} --root {host_commands.q(env.root)}"
            layout = host_commands.Layout(str(env.root), python=python, helper=helper)
        else:
            access = SshAccess.of(env)
            transports = {host: SshTransport(host, access) for host in hosts}
            layout = host_commands.Layout(str(env.root))
        return cls(env, transports, layout)

    def deployed(self, *, split_ok: bool = False, recorded: str | None = None) -> Deployed:
        """What the web hosts run: the fleet's release (fleet_release; `recorded` is the one the audit log says the
        last change left them on) and each host's. A split nothing resolves raises FleetSplit, unless `split_ok` (a
        rollback --to): then current is None and the releases are those every host holds."""
        states = {}
        for host in self.env.web_hosts:
            output = self.transports[host].run(host_commands.read_state(self.layout)).output
            states[host] = host_commands.parse_state(output)
        hosts = {host: state[0] for host, state in states.items()}
        common = _held_by_all(state[3] for state in states.values())
        current = fleet_release(hosts, recorded)
        if current is None and any(hosts.values()):
            if split_ok:
                return Deployed(None, None, None, common, hosts=hosts)
            described = ", ".join(f"{host}: {release}" for host, release in hosts.items())
            raise FleetSplit(f"web hosts run different releases ({described}); roll back with --to RELEASE")
        _, previous, version, _ = next(state for state in states.values() if state[0] == current)
        return Deployed(current, version, previous, common, hosts=hosts)

    @cached_property
    def endpoints(self) -> InstanceEndpoints:
        """Where the controller reaches each instance, through forwards over this fleet's own SSH connections."""
        ssh = {host: transport for host, transport in self.transports.items() if isinstance(transport, SshTransport)}
        return InstanceEndpoints(self.env, ssh)

    def not_serving(self, release_id: str, grace: float = 10.0) -> list[str]:
        """The instances (`web1:8000`) that do not answer healthy as `release_id`. An instance answering as another
        release decides at once; one that does not answer at all (still starting?) is given `grace` seconds."""
        deadline = time.monotonic() + grace
        while True:
            lagging, silent = [], []
            for instance, url in self.endpoints.named().items():
                try:
                    healthy = httpx.get(f"{url}/api/health", timeout=3).status_code == 200
                    answered = httpx.get(f"{url}/api/version", timeout=3).json().get("release_id")
                except (httpx.HTTPError, ValueError, AttributeError):
                    healthy, answered = False, None
                    silent.append(instance)
                if not healthy or answered != release_id:
                    lagging.append(instance)
            if lagging != silent or not lagging or time.monotonic() >= deadline:
                return lagging
            time.sleep(0.25)

    def wait_healthy(self, host: str, port: int, release_id: str, timeout: float) -> float:
        """Seconds until the instance at `port` on `host` answers healthy as `release_id`; HealthTimeout with the
        last answer otherwise."""
        url = self.endpoints.url(host, port)
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            try:
                health = httpx.get(f"{url}/api/health", timeout=2)
                version = httpx.get(f"{url}/api/version", timeout=2).json()
                if health.status_code == 200 and version.get("release_id") == release_id:
                    return time.monotonic() - started
                last = f"health {health.status_code}, release {version.get('release_id')}"
            except (httpx.TransportError, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(0.25)
        raise HealthTimeout(f"{name(host, port)} not healthy as {release_id} after {timeout:.0f} s (last: {last})")


def fleet_release(hosts: Mapping[str, str | None], recorded: str | None = None) -> str | None:
    """The release the fleet is on: the one every web host that has a release runs; where they differ, `recorded`
    (what the audit log says the last change left them on) if a host runs it. None: no host has a release, or a
    split nothing resolves. A host without a release never decides it (a replaced or added one)."""
    releases = {release for release in hosts.values() if release}
    if len(releases) == 1:
        return next(iter(releases))
    return recorded if recorded in releases else None


def _held_by_all(releases: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(sorted(set.intersection(*(set(held) for held in releases))))


def artifact_on_host(env: Environment, artifact: Path) -> str:
    return str(artifact) if env.is_local else f"{env.root}/artifacts/{artifact.name}"
