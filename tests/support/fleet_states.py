"""Web hosts that answer what a fleet reads of them (host_commands.read_state) from a table instead of a disk: each
host's `current`, `previous`, current version and release directories. The fleet parses their answers as it parses
real hosts'; everything else asked of them is refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from foundation import host_commands
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.transport import CommandResult


@dataclass
class HostState:
    current: str | None = None
    previous: str | None = None
    version: str | None = None
    releases: tuple[str, ...] = ()


@dataclass
class StateAnswering:
    host: str
    state: HostState
    asked: list[str] = field(default_factory=list)

    def run(self, command: str, **_) -> CommandResult:
        self.asked.append(command)
        if host_commands.STATE_MARKER not in command:
            raise AssertionError(f"{self.host} was asked more than its state: {command}")
        link = lambda release: f"releases/{release}" if release else "-"  # noqa: E731
        lines = [link(self.state.current), link(self.state.previous), self.state.version or "-", *self.state.releases]
        return CommandResult(0, host_commands.STATE_MARKER + "\n" + "\n".join(lines) + "\n")

    def put(self, local: Path, remote: str) -> None:
        raise AssertionError(f"{self.host} was sent {local}")


def answering(env: Environment, states: dict[str, HostState]) -> dict[str, StateAnswering]:
    return {host: StateAnswering(host, states[host]) for host in env.web_hosts}


def fleet(env: Environment, states: dict[str, HostState]) -> Fleet:
    return Fleet(env, dict(answering(env, states)), host_commands.Layout(str(env.root)))


ON_R3 = HostState("r3", "r2", "v3", ("r1", "r2", "r3"))
NO_RELEASE = HostState()
ON_R2 = HostState("r2", "r1", "v2", ("r1", "r2"))
