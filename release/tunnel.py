"""An SSH tunnel to an environment's private database (the route and the command: release/tunnel_commands.py), run
here: `ssh -N -L` started in a session of its own, open once ssh says the forwarded port listens, stopped by its PID.
The release opens one for the length of its command (database_url: the lab's `database: tunnel`); `fab db.tunnel`
opens one for a person or for one command.

The password comes from where the release takes it — the environment's secret source for `database: tunnel`
(foundation/secrets/: its vault file, or an AWS store), GOLIVE_DATABASE_URL for `database: url` — and is never
printed.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import socket
import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from foundation.environment import Environment
from foundation.secrets.resolve import secret
from foundation.secrets.source import SecretsUnavailable
from foundation.ssh_access import SshAccess
from release.tunnel_commands import LISTENING, LOOPBACK, PASSWORD_KEY, Route, TunnelFailed, route, ssh_command, url

__all__ = ["Tunnel", "TunnelFailed", "database_url", "open_tunnel", "password"]

URL_VARIABLE = "GOLIVE_DATABASE_URL"
COMPLAINT_LINES = 5  # of ssh's stderr, in a failure's message
# What ssh says at LogLevel DEBUG1 besides its debug lines that is no complaint
CHATTER = ("debug", "Authenticated to ", "Transferred: ", "Bytes per second: ")


class _Stderr(threading.Thread):
    """Reads ssh's stderr for as long as ssh runs (a full pipe would stall it): tells when the port listens, and keeps
    ssh's last lines that are not its debug chatter."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: deque[str] = deque(maxlen=COMPLAINT_LINES)
        self.listening = threading.Event()
        self.settled = threading.Event()  # listening, or ssh closed its stderr (it exited)

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            if LISTENING in line:
                self.lines.clear()  # what failed before is no longer news; what follows is why it ended
                self.listening.set()
                self.settled.set()
            elif line and not line.startswith(CHATTER):
                self.lines.append(line)
        self.settled.set()


@dataclass
class Tunnel:
    process: subprocess.Popen
    port: int
    route: Route
    stderr: _Stderr = field(repr=False)

    def complaint(self) -> str:
        """ssh's last lines (the host it named, what failed), one line."""
        self.stderr.join(timeout=5)  # ssh has exited: its stderr ends
        return " / ".join(self.stderr.lines) or "(nothing on stderr)"

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
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def _programs_exist(access: SshAccess) -> None:
    if shutil.which("ssh") is None:
        raise TunnelFailed("no `ssh` on PATH (OpenSSH's client: apt-get install openssh-client)")
    if access.proxy_command:
        program = shlex.split(access.proxy_command)[0]
        if shutil.which(program) is None:
            raise TunnelFailed(
                f"the proxy command's `{program}` is not on PATH (access.ssh_proxy_command: `{access.proxy_command}`); "
                "on AWS install the AWS CLI and the session-manager-plugin"
            )


def open_tunnel(env: Environment, port: int | None = None, *, wait_seconds: float = 60) -> Tunnel:
    """A tunnel from 127.0.0.1:`port` (a free one when None) to the environment's database, open when returned."""
    to = route(env)
    access = SshAccess.of(env)
    _programs_exist(access)
    port = port or free_port()
    if _port_in_use(port):
        raise TunnelFailed(f"127.0.0.1:{port} is in use (another tunnel?); choose another port with --port")
    process = subprocess.Popen(
        ssh_command(access, to, port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C in the terminal reaches this process, which stops the tunnel itself
    )
    tunnel = Tunnel(process, port, to, _Stderr(process.stderr))
    tunnel.stderr.start()
    try:
        settled = tunnel.stderr.settled.wait(wait_seconds)
    except BaseException:  # Ctrl-C (or SIGTERM made an exception) while waiting: no ssh left behind
        tunnel.stop()
        raise
    if not settled:
        tunnel.stop()
        raise TunnelFailed(f"ssh to {to.via} did not open 127.0.0.1:{port} within {wait_seconds:.0f} s")
    if not tunnel.stderr.listening.is_set():
        code = process.wait()
        raise TunnelFailed(f"ssh to {to.via} exited {code} before the tunnel opened: {tunnel.complaint()}")
    return tunnel


def password(env: Environment) -> str | None:
    """The database password where the release takes it; None when it has none (libpq's ~/.pgpass then)."""
    if env.database == "tunnel":
        state = env.ssh_config.parent if env.ssh_config else None
        if state is None:
            raise TunnelFailed(f"environment {env.name}: no ssh_config, so no state folder with its vault")
        try:
            return secret(env.secrets, state, PASSWORD_KEY)
        except SecretsUnavailable as exc:
            raise TunnelFailed(f"{exc} (is the lab up and converged? `fab lab.up`, then playbooks/site.yml)") from None
    given = os.environ.get(URL_VARIABLE)
    written = urlsplit(given).password if given else None
    return unquote(written) if written else None


def database_url(env: Environment) -> str:
    """A tunnel open until this process exits (stopped by its PID at exit); GOLIVE_DATABASE_URL wins when set."""
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    route(env)  # a missing ssh_config is said before the vault is asked
    known = password(env)
    tunnel = open_tunnel(env)
    atexit.register(tunnel.stop)
    return url(tunnel.route, tunnel.port, known)
