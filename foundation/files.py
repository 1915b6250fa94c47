"""Small file and text helpers shared by the artifact builder and the backups."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def first_line(text: str) -> str:
    """The first non-blank line, stripped ("" when there is none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
