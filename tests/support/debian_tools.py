"""Prometheus' own tools (promtool, amtool, prometheus, alertmanager) for tests on the controller, taken from
Debian's packages — the same builds the monitoring host runs. The package is fetched with `apt-get download`
(no root, nothing installed, no service started) and unpacked with `dpkg-deb -x` under state/tools/; a binary
already on PATH is used as it is.

Without apt (or its package lists) a test needing a tool skips with the reason — except in CI (CI=true), where
that is a failure: .ci/run runs `apt-get update` first, so there the tools must come."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from foundation.state import StateLayout

CACHE = StateLayout.default().tools

# binary → the Debian package carrying it (in /usr/bin)
PACKAGE_OF = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "alertmanager": "prometheus-alertmanager",  # Debian names the binary prometheus-alertmanager
}
BINARY_IN_PACKAGE = {"alertmanager": "prometheus-alertmanager"}


class ToolUnavailable(RuntimeError):
    """The tool is neither on PATH nor obtainable from Debian's packages here."""


def tool(name: str) -> Path:
    """The path of `name`, fetching its Debian package once when it is not on PATH."""
    if name not in PACKAGE_OF:
        raise ValueError(f"unknown tool {name!r} (known: {', '.join(sorted(PACKAGE_OF))})")
    on_path = shutil.which(BINARY_IN_PACKAGE.get(name, name)) or shutil.which(name)
    if on_path:
        return Path(on_path)
    unpacked = _unpacked(PACKAGE_OF[name])
    binary = unpacked / "usr" / "bin" / BINARY_IN_PACKAGE.get(name, name)
    if not binary.is_file():
        raise ToolUnavailable(f"{binary} is not in Debian's {PACKAGE_OF[name]} package")
    return binary


def tool_or_skip(name: str) -> Path:
    try:
        return tool(name)
    except ToolUnavailable as problem:
        reason = f"{name} is not available: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)


def _unpacked(package: str) -> Path:
    target = CACHE / package
    if (target / ".complete").exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{package}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process fetches and unpacks it; parallel workers wait, then use it
        if (target / ".complete").exists():
            return target
        return _fetch(package, target)


def _fetch(package: str, target: Path) -> Path:
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise ToolUnavailable("apt-get and dpkg-deb are needed to fetch it from Debian's packages")
    downloads = CACHE / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    os.chmod(downloads, 0o777)  # apt drops to the _apt user to download when run as root
    fetched = subprocess.run(
        ["apt-get", "download", "-q", package], cwd=downloads, capture_output=True, text=True, timeout=300, check=False
    )
    debs = sorted(downloads.glob(f"{package}_*.deb"))
    if fetched.returncode != 0 or not debs:
        detail = (fetched.stderr or fetched.stdout).strip().splitlines()[-1:] or ["no .deb was written"]
        raise ToolUnavailable(f"`apt-get download {package}` failed: {detail[0]} (run `apt-get update` as root first)")
    partial = CACHE / f".{package}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(partial)], check=True, capture_output=True, timeout=300)
    (partial / ".complete").write_text(debs[-1].name + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # whole or absent: a test never sees a half-unpacked package
    return target
