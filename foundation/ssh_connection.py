"""An SSH connection (Fabric over paramiko) that checks host keys, and says in one line what went wrong.

Fabric accepts any host key (it sets paramiko's AutoAddPolicy). Here every connection, and every ProxyJump hop
before it, checks the key against known_hosts (foundation.ssh_access) and refuses an unknown or a changed one.
paramiko's exceptions become HostUnreachable and its kinds (foundation.transport), naming the host and the fix."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
from pathlib import Path
from select import select
from typing import NoReturn

from fabric import Config, Connection
from paramiko import (
    AuthenticationException,
    BadHostKeyException,
    MissingHostKeyPolicy,
    PKey,
    ProxyCommand,
    ProxyCommandFailure,
    SSHClient,
    SSHException,
)
from paramiko.ssh_exception import NoValidConnectionsError

from foundation.ssh_access import SshAccess, expand_proxy_command
from foundation.transport import HostKeyRefused, HostUnreachable, LoginRefused, ProxyFailed

LAB_HINT = "a lab's known_hosts is rewritten by `fab lab.up`"

# paramiko's transport thread logs what fails as an ERROR with a traceback; unconfigured, Python would print it.
# What failed reaches the caller as one line (explain); paramiko's log goes only where logging is configured.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class _Proxy(ProxyCommand):
    """paramiko's ProxyCommand reads an exited command's closed output as "nothing yet" until the banner times out
    (15 s, spinning); this one fails at once."""

    def recv(self, size: int) -> bytes:
        ready, _, _ = select([self.process.stdout], [], [], self.timeout)
        if not ready:
            raise TimeoutError
        data = os.read(self.process.stdout.fileno(), size)
        if not data:
            raise ProxyCommandFailure(" ".join(self.cmd), "it closed the connection")
        return data


class _Connection(Connection):
    """A Fabric connection whose proxy command (the environment's) gets OpenSSH's tokens for the real host, port and
    user (Fabric's own substitution says port 22 and the local user), and is kept to read its complaint from."""

    proxy: _Proxy | None = None
    expand_gateway: bool = False

    def open_gateway(self):  # Fabric's signature
        if isinstance(self.gateway, str):
            command = self.gateway
            if self.expand_gateway:
                command = expand_proxy_command(
                    command, host=self.host, port=self.port, user=self.user, name=self.original_host
                )
            self.proxy = _Proxy(command)
            return self.proxy
        return super().open_gateway()


class _Refuse(MissingHostKeyPolicy):
    """paramiko's RejectPolicy, refusing with the host named and the fix."""

    def __init__(self, name: str, files: list[Path], port: int, proxied: bool):
        self.name, self.files, self.port, self.proxied = name, files, port, proxied

    def missing_host_key(self, client: SSHClient, hostname: str, key: PKey) -> NoReturn:
        target = self.files[0] if self.files else Path("~/.ssh/known_hosts")
        host = hostname.removeprefix("[").split("]")[0]
        how = (
            f"If it is the host's own key (on AWS `aws ec2 get-console-output --instance-id {host}` prints them at "
            f"first boot; ssh-keyscan cannot pass the proxy command), add it: "
            f"echo '{hostname} {key.get_name()} {key.get_base64()}' >> {target}"
            if self.proxied
            else f"Check the fingerprint, then: ssh-keyscan -p {self.port} {host} >> {target}"
        )
        raise HostKeyRefused(
            f"{self.name}: unknown host key ({key.get_name()} {key.fingerprint}) — {hostname} is not in "
            f"{', '.join(map(str, self.files)) or 'any known_hosts file'}; refused. {how} ({LAB_HINT})"
        )


def connection(host: str, access: SshAccess, connect_timeout: int = 10) -> _Connection:
    """A connection to `host` (not yet open) as `access` says, pinned to the known host keys."""
    if access.ssh_config is not None and not access.ssh_config.is_file():
        raise HostUnreachable(f"{host}: no ssh_config at {access.ssh_config} (a lab's is written by `fab lab.up`)")
    config = Config(runtime_ssh_path=str(access.ssh_config)) if access.ssh_config else Config()
    conn = _Connection(
        host, user=access.user, gateway=access.proxy_command, config=config, connect_timeout=connect_timeout
    )
    conn.expand_gateway = access.proxy_command is not None
    _pin(conn, access)
    return conn


def _pin(conn: Connection, access: SshAccess) -> None:
    """Host keys from known_hosts, unknown keys refused: for the connection and each ProxyJump hop."""
    files = access.known_hosts_files(
        conn.ssh_config.get("userknownhostsfile"), conn.ssh_config.get("globalknownhostsfile")
    )
    keys = conn.client.get_host_keys()
    for path in files:
        if path.is_file():
            try:
                keys.load(str(path))
            except (OSError, UnicodeDecodeError) as exc:
                raise HostKeyRefused(f"{conn.original_host}: cannot read known_hosts {path} ({exc})") from None
    conn.client.set_missing_host_key_policy(_Refuse(conn.original_host, files, conn.port, bool(conn.gateway)))
    if isinstance(conn.gateway, Connection):
        _pin(conn.gateway, access)


def open_connection(conn: _Connection, access: SshAccess) -> None:
    """Opens `conn`, or raises HostUnreachable (or a kind of it) saying what failed and what to do."""
    _key_files_exist(conn, access)
    try:
        conn.open()
    except HostUnreachable:
        conn.close()
        raise
    except (SSHException, OSError, EOFError) as exc:
        problem = explain(conn, access, exc)
        conn.close()
        raise problem from None


def _key_files_exist(conn: Connection, access: SshAccess) -> None:
    named = [Path(name).expanduser() for name in conn.connect_kwargs.get("key_filename", [])]
    if named and not any(path.is_file() for path in named):
        where = f"IdentityFile in {access.ssh_config or '~/.ssh/config'}"
        raise LoginRefused(
            f"{conn.original_host}: no SSH key at {', '.join(map(str, named))} ({where}); "
            "create it or point IdentityFile at the key authorized on the host"
        )


def explain(conn: _Connection, access: SshAccess, exc: BaseException) -> HostUnreachable:
    """paramiko's or the socket's exception as one line naming the host and the fix."""
    name, where = conn.original_host, f"{conn.host}:{conn.port}"
    config = access.ssh_config or "~/.ssh/config"
    if conn.proxy is not None and (_exited(conn.proxy) or isinstance(exc, ProxyCommandFailure)):
        return ProxyFailed(
            f"{name}: the proxy command `{' '.join(conn.proxy.cmd)}` failed"
            f"{_proxy_complaint(conn.proxy)}; run it by hand to see why "
            "(on AWS: the session-manager-plugin, AWS credentials, the instance's SSM agent)"
        )
    if isinstance(exc, BadHostKeyException):
        return HostKeyRefused(
            f"{name}: host key CHANGED for {where} (offered {exc.key.get_name()} {exc.key.fingerprint}, pinned "
            f"{exc.expected_key.fingerprint}); refused. If the host was rebuilt, check the new fingerprint, then "
            f"ssh-keygen -R {conn.host} and add the new key ({LAB_HINT})"
        )
    if isinstance(exc, AuthenticationException):
        return LoginRefused(
            f"{name}: login as {conn.user} refused at {where}; check the user (access.user in the stack outputs, "
            f"or User in {config}) and that its key is in ~{conn.user}/.ssh/authorized_keys on the host"
        )
    if isinstance(exc, SSHException) and "no authentication methods" in str(exc).lower():
        return LoginRefused(
            f"{name}: no SSH key to log in as {conn.user}; "
            f"name one with IdentityFile in {config} or add it to ssh-agent"
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return HostUnreachable(
            f"{name}: no answer from {where} within {conn.connect_timeout} s; is the host running and port "
            f"{conn.port} open to this machine (or is a proxy command needed: access.ssh_proxy_command)?"
        )
    if isinstance(exc, NoValidConnectionsError):
        reason = "; ".join(sorted({e.strerror or str(e) for e in exc.errors.values()}))
        return HostUnreachable(f"{name}: cannot connect to {where} ({reason}); is the host running and sshd up?")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return HostUnreachable(f"{name}: cannot connect to {where} ({reason}); is the host running and sshd up?")
    return HostUnreachable(f"{name}: SSH to {where} failed ({exc})")


def _exited(proxy: _Proxy) -> bool:
    try:
        proxy.process.wait(timeout=1)
    except subprocess.TimeoutExpired:  # still running: the proxy is not the cause
        return False
    return True


def _proxy_complaint(proxy: _Proxy) -> str:
    """Its exit code and the last line it wrote to stderr (read without waiting: a child may hold the pipe)."""
    code = proxy.process.returncode
    if code is None:
        return ""
    lines: list[str] = []
    if proxy.process.stderr is not None:
        os.set_blocking(proxy.process.stderr.fileno(), False)
        with contextlib.suppress(OSError):
            lines = (proxy.process.stderr.read() or b"").decode(errors="replace").strip().splitlines()
    return f" (exit {code}: {lines[-1]})" if lines else f" (exit {code})"
