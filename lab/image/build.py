"""Building the base image once and finding it in the cache afterwards.

A build happens in `<cache>/.build-<key>` and becomes `<cache>/<key>` by one rename when it is complete,
so a cache entry is either whole or absent. The chroot's /proc and /sys are mounted in a private mount
namespace (unshare), so no mount outlives the build, even when it fails.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.image import mirror, packages
from lab.image.cache_key import cache_key
from lab.mounts import mounted_under
from lab.plan import SUITE
from lab.shell import run

PROVISION = Path(__file__).with_name("provision.sh")
BOOTSTRAP_PACKAGES = ("systemd", "systemd-sysv", "dbus")
BUILD_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Image:
    key: str
    path: Path  # <cache>/<key>; the root filesystem is path / "root"
    cached: bool

    @property
    def root(self) -> Path:
        return self.path / "root"


def debootstrap_command(root: Path, archive: str, suite: str = SUITE) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BOOTSTRAP_PACKAGES)}",
        suite,
        str(root),
        archive,
    ]


def provision_command(root: Path, mirrors: mirror.Mirrors, suite: str = SUITE) -> list[str]:
    """provision.sh inside the chroot, with /proc and /sys mounted in a mount namespace of its own."""
    script = (
        f"mount -t proc proc {root}/proc && mount -t sysfs sysfs {root}/sys && "
        f"exec chroot {root} /bin/sh /tmp/golive-provision.sh /tmp/golive-packages.txt "
        f"{mirrors.archive} {mirrors.security} {suite}"
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def current_key() -> str:
    return cache_key(SUITE, platform.machine(), packages.load(), PROVISION.read_bytes())


def ensure(cache: Path, progress: Callable[[str], None], in_use: str | None = None) -> Image:
    """The image for the current package list: from the cache, or built now (several minutes, cold)."""
    key = current_key()
    final = cache / key
    if (final / "manifest.json").exists():
        return Image(key, final, cached=True)
    mirrors = mirror.discover(os.environ.get("GOLIVE_LAB_MIRROR"))
    progress(f"no cached image {key}: building it from {mirrors.archive} (debootstrap, then apt in a chroot)")
    started = time.monotonic()
    building = cache / f".build-{key}"
    _remove_tree(building)
    (building / "root").mkdir(parents=True)
    log = building / "build.log"
    try:
        run(debootstrap_command(building / "root", mirrors.archive), "debootstrap", log=log, timeout=BUILD_TIMEOUT)
        _stage(building / "root")
        progress(f"debootstrap done ({time.monotonic() - started:.0f} s); installing packages in the chroot")
        run(provision_command(building / "root", mirrors), "installing packages", log=log, timeout=BUILD_TIMEOUT)
        manifest = {
            "key": key,
            "suite": SUITE,
            "mirror": mirrors.archive,
            "packages": list(packages.load()),
            "built_seconds": round(time.monotonic() - started, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (building / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        building.rename(final)
    except BaseException as exc:
        kept = cache / f"failed-build-{key}.log"
        if log.exists():
            shutil.copyfile(log, kept)
        _remove_tree(building)
        if isinstance(exc, LabError):
            raise LabError(f"building the base image failed (nothing cached; full log: {kept})\n{exc}") from None
        raise
    _prune(cache, keep={key, in_use})
    return Image(key, final, cached=False)


def _stage(root: Path) -> None:
    """What the chroot step needs: no service may start, the script, and the package list."""
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# golive lab image build: no service starts in the chroot\nexit 101\n")
    policy.chmod(0o755)
    shutil.copyfile(PROVISION, root / "tmp/golive-provision.sh")
    (root / "tmp/golive-packages.txt").write_text("\n".join(packages.load()) + "\n")


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    if mounted_under(path):
        raise LabError(f"{path} still has mounts under it ({', '.join(mounted_under(path))}); not deleting it")
    shutil.rmtree(path)


def _prune(cache: Path, keep: set[str | None]) -> None:
    """Older images nobody boots from (their package list changed) would only fill the disk."""
    for entry in cache.iterdir():
        if entry.is_dir() and entry.name not in keep and not entry.name.startswith("."):
            _remove_tree(entry)
