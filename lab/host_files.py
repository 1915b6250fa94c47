"""What makes an overlay one particular host: written into its root before it boots."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from lab.layout import Layout
from lab.plan import Host
from lab.render import etc_hosts


def write(root: Path, host: Host, layout: Layout) -> None:
    (root / "etc/hostname").write_text(f"{host.name}\n")
    (root / "etc/hosts").write_text(etc_hosts())
    machine_id = root / "etc/machine-id"
    if not machine_id.read_text().strip():
        machine_id.write_text(uuid.uuid4().hex + "\n")
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    ssh.chmod(0o700)
    _install(layout.key.with_name(layout.key.name + ".pub"), ssh / "authorized_keys", 0o600)
    key = layout.host_key(host.name)
    _install(key, root / "etc/ssh/ssh_host_ed25519_key", 0o600)
    _install(key.with_name(key.name + ".pub"), root / "etc/ssh/ssh_host_ed25519_key.pub", 0o644)


def _install(source: Path, target: Path, mode: int) -> None:
    shutil.copyfile(source, target)
    os.chown(target, 0, 0)
    target.chmod(mode)
