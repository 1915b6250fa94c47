"""The lab's files for people and tools, rendered from the address plan: pure functions of their inputs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from lab.plan import CONTROLLER, GROUPS, HOSTS, NETWORK, Host, netns_path_of

HEADER = "# Written by `fab lab.up` (lab/render.py); `fab lab.down` deletes it."
# Whom people, Ansible and testinfra log in to every lab host as (root through sudo): the Debian AMI's user, made at
# boot as cloud-init makes it (lab/host_files.py). The release logs in as the deploy user the outputs name.
LOGIN_USER = "admin"


def etc_hosts(hosts: tuple[Host, ...] = HOSTS) -> str:
    """/etc/hosts of every lab host: all lab names resolve everywhere (the lab has no DNS); a host's own
    name maps to its lab address, not to Debian's usual 127.0.1.1."""
    lines = [
        HEADER,
        "127.0.0.1\tlocalhost",
        "::1\t\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\t\tip6-allnodes",
        "ff02::2\t\tip6-allrouters",
        "",
        f"{CONTROLLER}\tcontroller",
    ]
    lines += [f"{h.address}\t{h.name}" for h in hosts]
    return "\n".join(lines) + "\n"


SESSION = Path(__file__).resolve().with_name("session.py")  # the lab's SSM stand-in


def proxy_command(name: str = "%n") -> str:
    """How SSH reaches a lab host, as AWS's SSM session reaches an instance: into the host's own network namespace, on
    to its loopback's port (lab/session.py). `name`: the host's, or OpenSSH's %n (the instance id as the release names
    the host; %h would be the ssh_config's HostName, its address)."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(SESSION))} {netns_path_of(name)} %p"


def ssh_config(key: Path, known_hosts: Path, hosts: tuple[Host, ...] = HOSTS) -> str:
    """For `ssh -F`, Fabric and testinfra (`--ssh-config`): one alias per host, reached by its address too (Ansible
    connects by address), each through the session into its namespace; keys pinned per lab."""
    lines = [HEADER, ""]
    for host in hosts:
        lines += [
            f"Host {host.name} {host.address}",
            f"    HostName {host.address}",
            f"    ProxyCommand {proxy_command(host.name)}",
            "",
        ]
    names = " ".join(h.name for h in hosts)
    lines += [
        f"Host {names} {_wildcard()}",
        f"    User {LOGIN_USER}",
        f"    IdentityFile {key}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {known_hosts}",
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    ConnectTimeout 5",
        "    ServerAliveInterval 15",
        "    LogLevel ERROR",
        "",
    ]
    return "\n".join(lines)


def known_hosts(public_keys: dict[str, str], hosts: tuple[Host, ...] = HOSTS) -> str:
    """Each host's own host key under its name and its address (a key line is `TYPE BASE64 [COMMENT]`)."""
    lines = []
    for host in hosts:
        kind, material = public_keys[host.name].split()[:2]
        lines.append(f"{host.name},{host.address} {kind} {material}")
    return "\n".join(lines) + "\n"


def inventory(key: Path, config: Path, hosts: tuple[Host, ...] = HOSTS) -> str:
    """Ansible's INI inventory: one group per role, reached as the login user over the lab's ssh_config, root through
    sudo (as the stack outputs' inventory reaches AWS hosts: foundation/stack_outputs/inventory.py)."""
    lines = [HEADER, ""]
    for group in GROUPS:
        lines.append(f"[{group}]")
        lines += [f"{h.name} ansible_host={h.address}" for h in hosts if group in h.groups]
        lines.append("")
    lines += [
        "[lab:children]",
        *GROUPS,
        "",
        "[all:vars]",
        f"ansible_user={LOGIN_USER}",
        "ansible_become=true",
        f"ansible_ssh_private_key_file={key}",
        f"ansible_ssh_common_args='-F {config}'",
        "ansible_python_interpreter=/usr/bin/python3",
        "",
    ]
    return "\n".join(lines)


def _wildcard() -> str:
    """198.18.0.* — so that connecting by address (as Ansible does) picks up the same settings."""
    return str(NETWORK.network_address).rsplit(".", 1)[0] + ".*"
