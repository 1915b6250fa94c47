"""What makes an overlay one particular host: written into its root before it boots."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from lab.layout import Layout
from lab.plan import Host
from lab.render import LOGIN_USER, etc_hosts


def write(root: Path, host: Host, layout: Layout) -> None:
    (root / "etc/hostname").write_text(f"{host.name}\n")
    (root / "etc/hosts").write_text(etc_hosts())
    machine_id = root / "etc/machine-id"
    if not machine_id.read_text().strip():
        machine_id.write_text(uuid.uuid4().hex + "\n")
    _login_user(root, layout.key.with_name(layout.key.name + ".pub"))
    key = layout.host_key(host.name)
    _install(key, root / "etc/ssh/ssh_host_ed25519_key", 0o600)
    _install(key.with_name(key.name + ".pub"), root / "etc/ssh/ssh_host_ed25519_key.pub", 0o644)


def _login_user(root: Path, public_key: Path) -> None:
    """What cloud-init does on first boot of a Debian AMI: its `admin` user, the instance's key authorized, sudo
    without a password. Root has no key: it never logs in."""
    if _passwd_entry(root) is None:
        subprocess.run(
            ["useradd", "--root", str(root), "--create-home", "--user-group", "--shell", "/bin/bash", LOGIN_USER],
            check=True,
            capture_output=True,
        )
    entry = _passwd_entry(root)
    assert entry is not None, f"useradd made no {LOGIN_USER} in {root}"
    uid, gid, home = int(entry[2]), int(entry[3]), entry[5]
    ssh = root / home.lstrip("/") / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    _install(public_key, ssh / "authorized_keys", 0o600, uid, gid)
    os.chown(ssh, uid, gid)
    ssh.chmod(0o700)
    sudoers = root / "etc/sudoers.d/90-cloud-init-users"
    sudoers.write_text(f"# Created by cloud-init (here: lab/host_files.py)\n{LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)


def _passwd_entry(root: Path) -> list[str] | None:
    """The login user's /etc/passwd fields in `root`, if it has one."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == LOGIN_USER:
            return fields
    return None


def _install(source: Path, target: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    shutil.copyfile(source, target)
    os.chown(target, uid, gid)
    target.chmod(mode)
