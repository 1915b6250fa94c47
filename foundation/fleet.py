"""The hosts of an environment as the engine sees them: a transport per host, the layout on it, what
it runs now, and waiting for an instance to answer as a given release."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from foundation import host_commands
from foundation.environment import Environment
from foundation.ssh_access import SshAccess
from foundation.transport import LocalTransport, SshTransport, Transport


@dataclass(frozen=True)
class Deployed:
    """What an environment runs now (read from the hosts before planning)."""

    current: str | None = None  # release id behind the `current` symlink
    current_version: str | None = None
    previous: str | None = None
    releases: tuple[str, ...] = ()  # every release directory, oldest first
    drained: tuple[str, ...] = ()  # web hosts out of the balancer's rotation (asked of the balancer, when it matters)


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
            # The targets' interpreter here is this one's base interpreter (a venv cannot nest).
            layout = host_commands.Layout(str(env.root), python=getattr(sys, "_base_executable", sys.executable))
        else:
            access = SshAccess.of(env)
            transports = {host: SshTransport(host, access) for host in hosts}
            layout = host_commands.Layout(str(env.root))
        return cls(env, transports, layout)

    def deployed(self, *, split_ok: bool = False) -> Deployed:
        """What the web hosts run. Hosts on different releases raise FleetSplit, unless `split_ok` (a rollback
        --to): then current is None and the releases are those every host holds."""
        states = {}
        for host in self.env.web_hosts:
            output = self.transports[host].run(host_commands.read_state(self.layout)).output
            states[host] = host_commands.parse_state(output)
        currents = {state[0] for state in states.values()}
        if len(currents) > 1 and split_ok:
            common = tuple(sorted(set.intersection(*(set(state[3]) for state in states.values()))))
            return Deployed(None, None, None, common)
        if len(currents) > 1:
            described = ", ".join(f"{host}: {state[0]}" for host, state in states.items())
            raise FleetSplit(f"web hosts run different releases ({described}); roll back with --to RELEASE")
        current, previous, version, releases = next(iter(states.values()))
        common = tuple(sorted(set.intersection(*(set(state[3]) for state in states.values()))))
        return Deployed(current, version, previous, common if len(states) > 1 else releases)

    def instance_url(self, host: str, port: int) -> str:
        return f"http://{self.env.address(host)}:{port}"

    def not_serving(self, release_id: str, grace: float = 10.0) -> list[str]:
        """The instances that do not answer healthy as `release_id`. An instance answering as another release
        decides at once; one that does not answer at all (still starting?) is given `grace` seconds."""
        deadline = time.monotonic() + grace
        while True:
            lagging, silent = [], []
            for url in self.env.instance_urls():
                try:
                    healthy = httpx.get(f"{url}/api/health", timeout=3).status_code == 200
                    answered = httpx.get(f"{url}/api/version", timeout=3).json().get("release_id")
                except (httpx.HTTPError, ValueError, AttributeError):
                    healthy, answered = False, None
                    silent.append(url)
                if not healthy or answered != release_id:
                    lagging.append(url)
            if lagging != silent or not lagging or time.monotonic() >= deadline:
                return lagging
            time.sleep(0.25)

    def wait_healthy(self, url: str, release_id: str, timeout: float) -> float:
        """Seconds until `url` answers healthy as `release_id`; HealthTimeout with the last answer otherwise."""
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
        raise HealthTimeout(f"{url} not healthy as {release_id} after {timeout:.0f} s (last: {last})")


def artifact_on_host(env: Environment, artifact: Path) -> str:
    return str(artifact) if env.is_local else f"{env.root}/artifacts/{artifact.name}"
