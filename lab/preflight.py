"""Can this machine run the lab? Every lab command asks first and stops at once with what is missing."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from lab.errors import LabError

# command -> the Debian package that provides it
TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "unshare": "util-linux",
    "mount": "mount",
}


def problems(
    euid: int,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
) -> list[str]:
    """Every reason the lab cannot run here, each with the way to fix it (empty when it can)."""
    if not platform.startswith("linux"):
        return [f"the lab needs Linux (systemd-nspawn, network namespaces); this is {platform}"]
    found = []
    if euid != 0:
        found.append(
            f"the lab needs root (running as uid {euid}): it creates network namespaces, a bridge and mounts; "
            "run it as root, e.g. `sudo .venv/bin/fab lab.up`"
        )
    missing = sorted({package for command, package in TOOLS.items() if which(command) is None})
    if missing:
        commands = ", ".join(sorted(command for command, package in TOOLS.items() if package in missing))
        found.append(f"missing {commands}: install them with `apt-get install {' '.join(missing)}`")
    return found


def require() -> None:
    """Raises LabError naming everything that is missing."""
    found = problems(os.geteuid())
    if found:
        raise LabError("the lab cannot run on this machine:\n  - " + "\n  - ".join(found))
