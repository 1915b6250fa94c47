"""Taking a host out of the load balancer before it restarts, and putting it back after.

none: nothing to do (local: a single entry port). alb: the AWS target group from the stack outputs
(deregister, wait until the target has drained; register, wait until it is healthy). nginx: the lab's
balancer, whose drain mechanism comes with the lab's nginx role — until then an nginx environment is refused
in preflight rather than deployed without draining.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from release.environment import Environment


class BalancerUnavailable(Exception):
    pass


class DrainTimeout(Exception):
    pass


class Balancer(Protocol):
    def drain(self, host: str) -> None: ...

    def undrain(self, host: str) -> None: ...


class NoBalancer:
    def drain(self, host: str) -> None:
        return None

    def undrain(self, host: str) -> None:
        return None


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


def balancer_for(env: Environment, client: Any | None = None) -> Balancer:
    if env.load_balancer == "none":
        return NoBalancer()
    if env.load_balancer == "alb":
        outputs = env.extra.get("outputs") or {}
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
    raise BalancerUnavailable(
        f"environment {env.name}: no drain driver for {env.load_balancer} yet (it comes with the lab's nginx role); "
        "refusing to deploy without draining"
    )
