"""What is mounted where (from /proc/mounts)."""

from __future__ import annotations

from pathlib import Path


def mount_points(mounts: str | None = None) -> list[str]:
    text = Path("/proc/mounts").read_text() if mounts is None else mounts
    # Spaces and other specials are octal-escaped in /proc/mounts (\040).
    return [line.split()[1].encode().decode("unicode_escape") for line in text.splitlines() if line.strip()]


def is_mounted(path: Path, mounts: str | None = None) -> bool:
    return str(path) in mount_points(mounts)


def mounted_under(path: Path, mounts: str | None = None) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [point for point in mount_points(mounts) if point == str(path) or point.startswith(prefix)]
