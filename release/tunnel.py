"""The database of a `database: tunnel` environment (the lab): PostgreSQL on the db host answers only the web
hosts, so the controller reaches it through `ssh -N -L <free port>:127.0.0.1:5432 db` (sshd allows local
forwarding), opened for the length of one command and stopped by its PID. The password comes from the
environment's secret source (foundation/secrets/: its vault file, or an AWS store); it is never printed.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from foundation.environment import Environment
from foundation.secrets.resolve import secret
from foundation.secrets.source import SecretSource, SecretsUnavailable

DATABASE = "golive"  # roles/postgresql: postgresql_app_database
USER = "golive"  # roles/postgresql: postgresql_app_user
PASSWORD_KEY = "vault_postgresql_app_password"  # noqa: S105 (the key's name, not a password)
REMOTE_PORT = 5432


class TunnelFailed(Exception):
    pass


@dataclass
class Tunnel:
    process: subprocess.Popen
    port: int
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ssh_command(ssh_config: Path, host: str, port: int) -> list[str]:
    return [
        "ssh",
        "-F",
        str(ssh_config),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ServerAliveInterval=5",
        "-L",
        f"127.0.0.1:{port}:127.0.0.1:{REMOTE_PORT}",
        host,
    ]


def vault_password(state: Path, source: SecretSource) -> str:
    """The database password from the environment's secret source (state: its state folder, for a vault file)."""
    try:
        return secret(source, state, PASSWORD_KEY)
    except SecretsUnavailable as exc:
        raise TunnelFailed(f"{exc} (is the lab up and converged? `fab lab.up`, then playbooks/site.yml)") from None


def open_tunnel(env: Environment, *, wait_seconds: float = 20) -> Tunnel:
    if env.ssh_config is None or not env.ssh_config.exists():
        raise TunnelFailed(f"environment {env.name}: no ssh_config at {env.ssh_config} (is the lab up? `fab lab.up`)")
    db_hosts = env.hosts.get("db", ())
    if len(db_hosts) != 1:
        raise TunnelFailed(f"environment {env.name}: a database tunnel needs exactly one db host, not {list(db_hosts)}")
    password = vault_password(env.ssh_config.parent, env.secrets)
    port = free_port()
    process = subprocess.Popen(
        ssh_command(env.ssh_config, db_hosts[0], port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C in the terminal reaches the release, which stops the tunnel itself
    )
    url = f"postgresql://{USER}:{quote(password, safe='')}@127.0.0.1:{port}/{DATABASE}?sslmode=prefer"
    tunnel = Tunnel(process, port, url)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = (process.stderr.read() if process.stderr else b"").decode(errors="replace").strip()
            raise TunnelFailed(f"ssh tunnel to {db_hosts[0]} exited {process.returncode}: {error[-300:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return tunnel
        except OSError:
            time.sleep(0.1)
    tunnel.stop()
    raise TunnelFailed(f"ssh tunnel to {db_hosts[0]} did not listen on 127.0.0.1:{port} within {wait_seconds:.0f} s")


def database_url(env: Environment) -> str:
    """A tunnel open until this process exits (stopped by its PID at exit); GOLIVE_DATABASE_URL wins when set."""
    if os.environ.get("GOLIVE_DATABASE_URL"):
        return os.environ["GOLIVE_DATABASE_URL"]
    tunnel = open_tunnel(env)
    atexit.register(tunnel.stop)
    return tunnel.url
