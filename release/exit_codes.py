"""What every fab command exits with (README, "Exit codes")."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # released (or nothing to do), rolled back as asked, the load test passed
    FAILED = 1  # the release rolled back, a rollback failed, the load test missed its SLO
    REFUSED = 2  # refused before any change: usage, preflight, the lock held, a backup that does not restore
    HELD = 3  # held for a person (inconclusive gates where `inconclusive: hold`; unsigned boxes after the switch)


class Refused(Exception):
    """Refused before anything changed; the message says why (exit 2)."""
