"""A real OpenSSH server on loopback for the SSH transport's tests: its own host key, config and authorized key in a
folder of its own, on a free 127.0.0.1 port, run in the foreground (`sshd -D`) and stopped by its PID.

Without sshd (Debian's openssh-server) the tests skip with the reason, except in CI (CI=true), where .ci/run
installs it and its absence is a failure."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.keys import keygen_command
from tests.support.processes import free_port

SSHD_PATHS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd refuses to start as root without it (its service creates it)


def sshd_or_skip() -> str:
    found = shutil.which("sshd") or next((p for p in SSHD_PATHS if Path(p).is_file()), None)
    if found:
        return found
    reason = "sshd is not installed (apt-get install openssh-server)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def keygen(path: Path, comment: str) -> str:
    """A fresh ed25519 key pair at `path` (as the lab makes its own); returns the public half (`TYPE BASE64 …`)."""
    subprocess.run(keygen_command(path, comment), check=True)
    return path.with_name(path.name + ".pub").read_text().strip()


@dataclass
class Sshd:
    folder: Path
    port: int
    process: subprocess.Popen
    host_key: str  # the server's public host key (`TYPE BASE64 COMMENT`)
    client_key: Path  # the private key authorized to log in
    user: str  # who may log in: the user running the tests

    def known_hosts_line(self, name: str | None = None, key: str | None = None) -> str:
        kind, material = (key or self.host_key).split()[:2]
        return f"{name or f'[127.0.0.1]:{self.port}'} {kind} {material}\n"

    def client_config(
        self, folder: Path, *, port: int | None = None, key: Path | None = None, known_hosts: str | None = None
    ) -> Path:
        """An ssh_config as the lab writes one: the alias `target`, its address and port (`port`: another, e.g. one
        nothing listens on), the key, and the pinned host keys (`known_hosts`: other lines, or "" for none)."""
        folder.mkdir(parents=True, exist_ok=True)
        pinned = folder / "known_hosts"
        pinned.write_text(self.known_hosts_line() if known_hosts is None else known_hosts)
        config = folder / "ssh_config"
        config.write_text(
            "Host target\n"
            "    HostName 127.0.0.1\n"
            f"    Port {port or self.port}\n"
            f"    User {self.user}\n"
            f"    IdentityFile {key or self.client_key}\n"
            f"    UserKnownHostsFile {pinned}\n"
            "    StrictHostKeyChecking yes\n"
        )
        return config

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start(folder: Path, **settings: str) -> Sshd:
    """`settings`: sshd_config keywords over the ones below (sshd keeps a keyword's first value), e.g.
    AllowTcpForwarding="no"."""
    binary = sshd_or_skip()
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keygen(folder / "host_ed25519", "golive-test-host")
    client_public = keygen(folder / "id_ed25519", "golive-test-client")
    (folder / "authorized_keys").write_text(client_public + "\n")
    port = free_port()
    (folder / "sshd_config").write_text(
        "\n".join(
            [
                *(f"{keyword} {value}" for keyword, value in settings.items()),
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {folder / 'host_ed25519'}",
                "PidFile none",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "AllowTcpForwarding local",  # a ProxyJump hop through it
                "X11Forwarding no",
                "PrintMotd no",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    process = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(folder / "sshd_config")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "sshd.log").open("w"),
    )
    server = Sshd(folder, port, process, host_key, folder / "id_ed25519", getpass.getuser())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {(folder / 'sshd.log').read_text()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{port} within 10 s")
