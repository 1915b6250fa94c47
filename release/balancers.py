"""Taking a host out of the load balancer before it restarts, and putting it back after.

none: nothing to do (local: a single entry port). alb: the AWS target group from the stack outputs
(deregister, wait until the target has drained; register, wait until it is healthy). nginx: the lab's
balancer on its lb host, driven over SSH through the script the nginx role installs there
(roles/nginx: `golive-upstream drain|undrain HOST`, which marks the upstream down, validates and reloads).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any, Protocol

from foundation.environment import Environment
from foundation.transport import CommandFailed, HostUnreachable, Transport


class BalancerUnavailable(Exception):
    pass


class DrainTimeout(Exception):
    pass


class Balancer(Protocol):
    def drain(self, host: str) -> None: ...

    def undrain(self, host: str) -> None: ...

    def drained(self, host: str) -> bool:
        """True when the host is out of rotation now (an earlier run may have left it so)."""
        ...


class NoBalancer:
    def drain(self, host: str) -> None:
        return None

    def undrain(self, host: str) -> None:
        return None

    def drained(self, host: str) -> bool:
        return False


class AlbTargetGroup:
    """Hosts are EC2 instance ids (the stack outputs' hosts, reached through SSM)."""

    def __init__(
        self,
        client: Any,
        target_group_arn: str,
        port: int,
        *,
        drain_seconds: float,
        healthy_seconds: float = 120,
        poll: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client, self._arn, self._port = client, target_group_arn, port
        self._drain_seconds, self._healthy_seconds = drain_seconds, healthy_seconds
        self._poll, self._sleep, self._clock = poll, sleep, clock

    def _target(self, host: str) -> list[dict[str, Any]]:
        return [{"Id": host, "Port": self._port}]

    def _state(self, host: str) -> str:
        described = self._client.describe_target_health(TargetGroupArn=self._arn, Targets=self._target(host))
        return described["TargetHealthDescriptions"][0]["TargetHealth"]["State"]

    def _wait(self, host: str, wanted: str, seconds: float, what: str) -> None:
        deadline = self._clock() + seconds
        state = self._state(host)
        while state != wanted:
            if self._clock() > deadline:
                raise DrainTimeout(f"{host} still {state} after {seconds:.0f} s waiting to be {what}")
            self._sleep(self._poll)
            state = self._state(host)

    def drain(self, host: str) -> None:
        self._client.deregister_targets(TargetGroupArn=self._arn, Targets=self._target(host))
        # The deregistration delay (golive:drainSeconds) lets in-flight requests finish; a margin on top.
        self._wait(host, "unused", self._drain_seconds + 30, "drained")

    def undrain(self, host: str) -> None:
        self._client.register_targets(TargetGroupArn=self._arn, Targets=self._target(host))
        self._wait(host, "healthy", self._healthy_seconds, "healthy")

    def drained(self, host: str) -> bool:
        # A target never registered or deregistered answers "unused"; one on its way out, "draining".
        return self._state(host) in ("unused", "draining")


class NginxUpstreams:
    """The lab's nginx: one include file per upstream host on the lb host, toggled by `golive-upstream`.

    drain returns once nginx has reloaded without the host and the workers of the old configuration have
    finished their requests (at most `wait_seconds`); undrain once the host is back in rotation. Both are
    idempotent. The commands are built by `command` (tested without a host) and run through a transport.
    """

    SCRIPT = "/usr/local/sbin/golive-upstream"

    def __init__(self, transport: Transport, *, wait_seconds: int = 15, timeout: float = 60):
        self._transport, self._wait_seconds, self._timeout = transport, wait_seconds, timeout

    def command(self, action: str, host: str) -> str:
        if action not in ("drain", "undrain", "status"):
            raise ValueError(f"unknown balancer action {action!r}")
        command = f"sudo -n {self.SCRIPT} {action} {shlex.quote(host)}"
        return f"{command} --wait {self._wait_seconds}" if action == "drain" else command

    def _run(self, action: str, host: str) -> str:
        try:
            return self._transport.run(self.command(action, host), timeout=self._timeout).output.strip()
        except CommandFailed as exc:
            raise BalancerUnavailable(
                f"the balancer on {self._transport.host} could not {action} {host}: {exc}"
            ) from None
        except HostUnreachable as exc:
            raise BalancerUnavailable(f"the balancer host is unreachable: {exc}") from None

    def drain(self, host: str) -> None:
        self._run("drain", host)

    def undrain(self, host: str) -> None:
        self._run("undrain", host)

    def status(self, host: str) -> str:
        """Returns "up" or "drained"."""
        return self._run("status", host).rsplit(" ", 1)[-1]

    def drained(self, host: str) -> bool:
        return self.status(host) == "drained"


def balancer_for(env: Environment, client: Any | None = None) -> Balancer:
    if env.load_balancer == "none":
        return NoBalancer()
    if env.load_balancer == "alb":
        outputs = env.outputs
        try:
            arn = outputs["load_balancer"]["target_group_arn"]
            region, port = outputs["region"], int(outputs["service_port"])
            drain = float(outputs.get("drain_seconds", 30))
        except (KeyError, TypeError, ValueError) as exc:
            raise BalancerUnavailable(f"the stack outputs lack the load balancer's {exc}") from None
        if client is None:
            import boto3  # noqa: PLC0415 (only AWS environments need it)

            client = boto3.client("elbv2", region_name=region)
        return AlbTargetGroup(client, arn, port, drain_seconds=drain, healthy_seconds=env.health_timeout_seconds)
    if env.load_balancer == "nginx":
        lb_hosts = env.hosts.get("lb", ())
        if len(lb_hosts) != 1:
            raise BalancerUnavailable(
                f"environment {env.name}: an nginx balancer needs exactly one lb host, not {list(lb_hosts)}"
            )
        if client is None:
            from foundation.ssh_access import SshAccess  # noqa: PLC0415 (only SSH environments need it)
            from foundation.transport import SshTransport  # noqa: PLC0415 (only SSH environments need paramiko)

            if env.ssh_config is not None and not env.ssh_config.exists():
                raise BalancerUnavailable(
                    f"environment {env.name}: no SSH configuration at {env.ssh_config} to reach {lb_hosts[0]} "
                    "(is the lab up? `fab lab.up`)"
                )

            client = SshTransport(lb_hosts[0], SshAccess.of(env))
        # The stack outputs' drain wait, as for the ALB (the lab's: lab/outputs.py).
        drain = env.outputs.get("drain_seconds")
        return NginxUpstreams(client) if drain is None else NginxUpstreams(client, wait_seconds=int(drain))
    raise BalancerUnavailable(f"environment {env.name}: no drain driver for {env.load_balancer}")
