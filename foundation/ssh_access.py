"""How the controller reaches an environment's hosts over SSH, as data: the user and proxy command its stack outputs
name (`access.user`, `access.ssh_proxy_command`), the ssh_config it names (the lab's) or the operator's
~/.ssh/config, and where host keys are pinned. What the stack outputs name wins over the ssh_config; the ssh_config
gives the rest (HostName, Port, IdentityFile, UserKnownHostsFile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from foundation.environment import Environment
from foundation.state import StateLayout

# OpenSSH's own defaults, used when the ssh_config names no known_hosts file
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


@dataclass(frozen=True)
class SshAccess:
    ssh_config: Path | None = None  # None: ~/.ssh/config and /etc/ssh/ssh_config, as `ssh` reads them
    user: str | None = None  # None: the ssh_config's User
    proxy_command: str | None = None  # OpenSSH's tokens: %h the host, %p the port, %r the user, %% a percent sign
    known_hosts: Path | None = None  # the environment's own; read when the ssh_config names no UserKnownHostsFile

    @classmethod
    def of(cls, env: Environment, state: StateLayout | None = None) -> SshAccess:
        access = env.outputs.get("access") or {}
        return cls(
            ssh_config=env.ssh_config,
            user=access.get("user") or None,
            proxy_command=access.get("ssh_proxy_command") or None,
            known_hosts=(state or StateLayout.default()).known_hosts(env.name),
        )

    def known_hosts_files(self, named: str | None, named_global: str | None = None) -> list[Path]:
        """The files host keys are checked against: those the ssh_config names for the host (`named`: its
        UserKnownHostsFile, `named_global`: its GlobalKnownHostsFile), else the environment's and OpenSSH's
        defaults. /dev/null pins nothing (every key is then unknown, hence refused)."""
        user = named.split() if named else [str(p) for p in (self.known_hosts, USER_KNOWN_HOSTS) if p]
        system = named_global.split() if named_global else [GLOBAL_KNOWN_HOSTS]
        return [Path(name).expanduser() for name in (*user, *system) if name != "/dev/null"]


def expand_proxy_command(command: str, *, host: str, port: int, user: str) -> str:
    """OpenSSH's tokens in a ProxyCommand (%h, %p, %r, %%), as `ssh` substitutes them."""
    tokens = {"h": host, "p": str(port), "r": user, "%": "%"}
    out, i = [], 0
    while i < len(command):
        if command[i] == "%" and i + 1 < len(command):
            token = command[i + 1]
            if token not in tokens:
                raise ValueError(f"proxy command {command!r}: unknown token %{token} (known: %h %p %r %%)")
            out.append(tokens[token])
            i += 2
        else:
            out.append(command[i])
            i += 1
    return "".join(out)
