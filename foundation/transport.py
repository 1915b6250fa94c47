"""Running commands on a host: the local shell for `local`, SSH (Fabric) elsewhere. Everything above
this layer only builds commands (foundation.host_commands), so it is tested without any host."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class CommandFailed(Exception):
    def __init__(self, host: str, command: str, code: int, output: str):
        tail = output.strip().splitlines()[-5:]
        super().__init__(f"{host}: `{command}` exited {code}" + ("\n  " + "\n  ".join(tail) if tail else ""))
        self.host, self.command, self.code, self.output = host, command, code, output


class HostUnreachable(Exception):
    pass


@dataclass(frozen=True)
class CommandResult:
    code: int
    output: str


class Transport(Protocol):
    host: str

    def run(
        self, command: str, *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True
    ) -> CommandResult: ...

    def put(self, local: Path, remote: str) -> None: ...


class LocalTransport:
    def __init__(self, host: str = "localhost"):
        self.host = host

    def run(
        self, command: str, *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True
    ) -> CommandResult:
        completed = subprocess.run(
            ["/bin/bash", "-o", "pipefail", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = completed.stdout + completed.stderr
        if check and completed.returncode != 0:
            raise CommandFailed(self.host, command, completed.returncode, output)
        return CommandResult(completed.returncode, output)

    def put(self, local: Path, remote: str) -> None:
        self.run(f"cp {shlex.quote(str(local))} {shlex.quote(remote)}")


class SshTransport:
    def __init__(self, host: str, ssh_config: Path | None):
        from fabric import Config, Connection  # noqa: PLC0415 (only SSH environments need paramiko)

        config = Config(runtime_ssh_path=str(ssh_config)) if ssh_config else Config()
        self.host = host
        self._connection = Connection(host, config=config, connect_timeout=10)

    def run(
        self, command: str, *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True
    ) -> CommandResult:
        try:
            result = self._connection.run(
                command, env=env or {}, hide=True, warn=True, timeout=timeout, in_stream=False
            )
        except OSError as exc:
            raise HostUnreachable(f"{self.host}: {exc}") from None
        output = result.stdout + result.stderr
        if check and result.return_code != 0:
            raise CommandFailed(self.host, command, result.return_code, output)
        return CommandResult(result.return_code, output)

    def put(self, local: Path, remote: str) -> None:
        try:
            self._connection.put(str(local), remote)
        except OSError as exc:
            raise HostUnreachable(f"{self.host}: upload failed: {exc}") from None
