"""One overlay per host over the shared base image: the image stays read-only, each host writes its own
upper directory, and deleting that directory forgets everything the host did."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from lab.errors import LabError
from lab.layout import Layout
from lab.mounts import is_mounted, mounted_under
from lab.shell import run, succeeds


def mount_command(lower: Path, upper: Path, work: Path, merged: Path) -> list[str]:
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    return ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)]


def mount(layout: Layout, name: str, image_root: Path) -> Path:
    """Mounts the host's overlay (a leftover one over another image is replaced: the host is not running)."""
    merged = layout.merged(name)
    if is_mounted(merged):
        if lower_dir(layout, name) == str(image_root):
            return merged
        remove(layout, name)
    for directory in (layout.upper(name), layout.work(name), merged):
        directory.mkdir(parents=True, exist_ok=True)
    run(
        mount_command(image_root, layout.upper(name), layout.work(name), merged),
        f"{name}: mounting its overlay",
    )
    return merged


def lower_dir(layout: Layout, name: str) -> str | None:
    """The image a mounted overlay sits on (None when it is not mounted)."""
    merged = str(layout.merged(name))
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] == merged and fields[2] == "overlay":
            for option in fields[3].split(","):
                if option.startswith("lowerdir="):
                    return option.removeprefix("lowerdir=")
    return None


def remove(layout: Layout, name: str) -> None:
    """Unmounts the host's overlay (retrying while the last processes let go) and deletes its directories.
    Never deletes while anything is still mounted under them: that would reach into the base image."""
    host_dir = layout.host_dir(name)
    for point in sorted(mounted_under(host_dir), key=len, reverse=True):
        _unmount(Path(point))
    if mounted_under(host_dir):
        raise LabError(f"{name}: {host_dir} is still mounted; not deleting it (see `grep {host_dir} /proc/mounts`)")
    if host_dir.exists():
        shutil.rmtree(host_dir)


def _unmount(point: Path, attempts: int = 20) -> None:
    for _ in range(attempts):
        if not is_mounted(point) or succeeds(["umount", str(point)]):
            return
        time.sleep(0.25)
    run(["umount", str(point)], f"unmounting {point}")
