"""Running commands on a host: the local shell for `local`, SSH (Fabric) elsewhere. Everything above
this layer only builds commands (foundation.host_commands), so it is tested without any host."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from foundation.port_forward import Forward
    from foundation.ssh_access import SshAccess


class CommandFailed(Exception):
    def __init__(self, host: str, command: str, code: int, output: str):
        tail = output.strip().splitlines()[-5:]
        super().__init__(f"{host}: `{command}` exited {code}" + ("\n  " + "\n  ".join(tail) if tail else ""))
        self.host, self.command, self.code, self.output = host, command, code, output


class HostUnreachable(Exception):
    """SSH could not reach or log in to the host; the message is one line naming the host and the fix."""


class HostKeyRefused(HostUnreachable):
    """The host offered a key known_hosts does not pin (unknown or changed): nothing was sent to it."""


class LoginRefused(HostUnreachable):
    """No key to log in with, or the host refused the login."""


class ForwardRefused(HostUnreachable):
    """The host's sshd refused to forward a port (AllowTcpForwarding, PermitOpen)."""


class ProxyFailed(HostUnreachable):
    """The proxy command (access.ssh_proxy_command, or the ssh_config's) failed to carry the connection."""


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
    """Commands over SSH (Fabric), reached as `access` says (foundation.ssh_access), host keys checked."""

    def __init__(self, host: str, access: SshAccess, connect_timeout: int = 10):
        from foundation import ssh_connection  # noqa: PLC0415 (only SSH environments need paramiko)

        self.host = host
        self._access = access
        self._ssh = ssh_connection
        self._connection = ssh_connection.connection(host, access, connect_timeout)

    def _open(self) -> None:
        if not self._connection.is_connected:
            self._ssh.open_connection(self._connection, self._access)

    def run(
        self, command: str, *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True
    ) -> CommandResult:
        self._open()
        try:
            result = self._connection.run(
                command, env=env or {}, hide=True, warn=True, timeout=timeout, in_stream=False
            )
        except OSError as exc:
            raise HostUnreachable(f"{self.host}: connection lost running a command ({exc})") from None
        output = result.stdout + result.stderr
        if check and result.return_code != 0:
            raise CommandFailed(self.host, command, result.return_code, output)
        return CommandResult(result.return_code, output)

    def put(self, local: Path, remote: str) -> None:
        self._open()
        try:
            self._connection.put(str(local), remote)
        except OSError as exc:
            raise HostUnreachable(f"{self.host}: upload of {local.name} to {remote} failed ({exc})") from None

    def forward(self, remote_port: int) -> Forward:
        """A port on the controller's loopback carried over this connection to `remote_port` on the host's own
        loopback, open until its close()."""
        from foundation.port_forward import Forward  # noqa: PLC0415 (only SSH environments need paramiko)

        try:
            self._open()
        except HostUnreachable as exc:
            raise type(exc)(f"{exc} (to reach its port {remote_port})") from None
        return Forward(self._connection.transport, self.host, remote_port)

    def close(self) -> None:
        self._connection.close()
