"""Where the controller reaches each service instance over HTTP (health, version, /metrics: straight to an instance,
never through the balancer). Locally at 127.0.0.1. Elsewhere only SSH reaches a host (on AWS an instance id that
does not resolve, its port open only to the balancer), so an instance is reached through a port forward over its
host's SSH connection to the port on the host's own loopback (instances bind every address): never by resolving or
connecting to a host's address from the controller. Forwards open on first use and stay open until close()."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from foundation.environment import Environment
from foundation.ssh_access import SshAccess
from foundation.transport import SshTransport

if TYPE_CHECKING:
    from foundation.port_forward import Forward

LOCAL = "127.0.0.1"  # where the local environment's instances listen, and every forward


def name(host: str, port: int) -> str:
    """An instance as a person reads it (`web1:8000`), where a forward's port would say nothing."""
    return f"{host}:{port}"


class Forwarding(Protocol):
    def forward(self, remote_port: int) -> Forward: ...


class InstanceEndpoints:
    """Every instance's URL for `env`; `transports`: SSH connections to reuse (the fleet's), by host. A host without
    one gets its own, closed with the forwards."""

    def __init__(self, env: Environment, transports: Mapping[str, Forwarding] | None = None):
        self.env = env
        self._given = dict(transports or {})
        self._own: dict[str, SshTransport] = {}
        self._forwards: dict[tuple[str, int], Forward] = {}
        self._lock = threading.Lock()

    def targets(self) -> list[tuple[str, int]]:
        """Every instance as (web host, port), host by host."""
        return [(host, instance.port) for host in self.env.web_hosts for instance in self.env.instances]

    def url(self, host: str, port: int) -> str:
        """HostUnreachable (or a kind of it) naming the host and port when its forward cannot be opened."""
        if self.env.is_local:
            return f"http://{LOCAL}:{port}"
        with self._lock:
            forward = self._forwards.get((host, port))
            if forward is None:
                forward = self._forwards[(host, port)] = self._transport(host).forward(port)
        return f"http://{LOCAL}:{forward.port}"

    def urls(self) -> list[str]:
        return [self.url(host, port) for host, port in self.targets()]

    def named(self) -> dict[str, str]:
        """Every instance's URL by its name()."""
        return {name(host, port): self.url(host, port) for host, port in self.targets()}

    def _transport(self, host: str) -> Forwarding:
        if host in self._given:
            return self._given[host]
        if host not in self._own:
            self._own[host] = SshTransport(host, SshAccess.of(self.env))
        return self._own[host]

    def close(self) -> None:
        """Stops every forward (and closes the connections opened for them); a later url() opens anew."""
        with self._lock:
            forwards, self._forwards = list(self._forwards.values()), {}
            own, self._own = list(self._own.values()), {}
        for forward in forwards:
            forward.close()
        for transport in own:
            transport.close()

    def __enter__(self) -> InstanceEndpoints:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
