"""The repository this code runs from: relative paths in environment descriptions, the state folder, the sources
of a release."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
