"""How the controller reaches an environment's hosts over SSH, as data: the user and proxy command its stack outputs
name (`access.user`, `access.ssh_proxy_command`), the ssh_config it names (the lab's) or the operator's
~/.ssh/config, and where host keys are pinned. What the stack outputs name wins over the ssh_config; the ssh_config
gives the rest (HostName, Port, IdentityFile, UserKnownHostsFile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paramiko import SSHConfig

from foundation.environment import Environment
from foundation.state import StateLayout

# OpenSSH's own defaults, used when the ssh_config names no known_hosts file
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
USER_SSH_CONFIG = "~/.ssh/config"  # what `ssh` and Fabric read when the environment names no ssh_config


@dataclass(frozen=True)
class SshAccess:
    ssh_config: Path | None = None  # None: ~/.ssh/config and /etc/ssh/ssh_config, as `ssh` reads them
    user: str | None = None  # the release's account (access.deploy_user); None: the ssh_config's User
    # OpenSSH's tokens: %h the host (the ssh_config's HostName), %n the host as named, %p the port, %r the user, %%
    proxy_command: str | None = None
    known_hosts: Path | None = None  # the environment's own; read when the ssh_config names no UserKnownHostsFile

    @classmethod
    def of(cls, env: Environment, state: StateLayout | None = None) -> SshAccess:
        access = env.outputs.get("access") or {}
        return cls(
            ssh_config=env.ssh_config,
            user=access.get("deploy_user") or None,  # the release's account; `user` is Ansible's
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

    def openssh_options(self, host: str) -> list[str]:
        """The same access for OpenSSH's `ssh` (a tunnel, where paramiko has no part): the ssh_config, the user and
        proxy command the stack outputs name (they win over the ssh_config, as for the release's connections), and
        host keys checked against known_hosts_files — those the ssh_config names for `host`, else the defaults."""
        named = self._ssh_config_for(host)
        files = self.known_hosts_files(named.get("userknownhostsfile"), named.get("globalknownhostsfile"))
        options = ["-F", str(self.ssh_config)] if self.ssh_config else []
        if self.user:
            options += ["-l", self.user]
        if self.proxy_command:
            options += ["-o", f"ProxyCommand={self.proxy_command}"]  # ssh substitutes %h %p %r %% itself
        return [
            *options,
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={' '.join(_quoted(path) for path in files) or '/dev/null'}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",  # the global file is among `files` when it counts
        ]

    def _ssh_config_for(self, host: str) -> dict[str, str]:
        """What the ssh_config (the environment's, else ~/.ssh/config) says for `host`, as paramiko (and so Fabric)
        reads it."""
        path = self.ssh_config or Path(USER_SSH_CONFIG).expanduser()
        if not path.is_file():
            return {}
        found = SSHConfig.from_path(str(path)).lookup(host)
        return {key: " ".join(value) if isinstance(value, list) else value for key, value in found.items()}


def _quoted(path: Path) -> str:
    return f'"{path}"' if any(c.isspace() for c in str(path)) else str(path)


def expand_proxy_command(command: str, *, host: str, port: int, user: str, name: str | None = None) -> str:
    """OpenSSH's tokens in a ProxyCommand (%h the HostName, %n the host as named, %p, %r, %%), as `ssh` substitutes
    them."""
    tokens = {"h": host, "n": name or host, "p": str(port), "r": user, "%": "%"}
    out, i = [], 0
    while i < len(command):
        if command[i] == "%" and i + 1 < len(command):
            token = command[i + 1]
            if token not in tokens:
                raise ValueError(f"proxy command {command!r}: unknown token %{token} (known: %h %n %p %r %%)")
            out.append(tokens[token])
            i += 2
        else:
            out.append(command[i])
            i += 1
    return "".join(out)
