"""The image's package list (lab/image/packages.txt)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGES = Path(__file__).with_name("packages.txt")
# Debian package names (policy 5.6.1), optionally with an architecture qualifier.
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$")


def parse(text: str) -> tuple[str, ...]:
    """Package names in order, without comments, blanks or repeats; a malformed name is an error."""
    names: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _NAME.match(line):
            raise ValueError(f"{PACKAGES.name} line {number}: {line!r} is not a Debian package name")
        if line not in names:
            names.append(line)
    return tuple(names)


def load(path: Path = PACKAGES) -> tuple[str, ...]:
    return parse(path.read_text())
