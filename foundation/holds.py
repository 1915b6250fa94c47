"""What the audit log says of the fleet, from the newest record that changed it (a release, a rollback or a promote;
a refusal changes nothing): the release held for a person (its outcome "held"), and the release it left the fleet
on. The hold lives there, not in a process: `fab promote` finds it in a later one, `fab signoff` signs for it by
default, the checks judge sign-offs against it."""

from __future__ import annotations

from typing import Any

from foundation.audit import AuditLog

HELD = "held"
FLEET_KINDS = ("release", "rollback", "promote")


def held_release(audit: AuditLog) -> dict[str, Any] | None:
    """The held release's record, or None when the newest change to the fleet was not a hold."""
    entry = _newest_change(audit)
    return entry if entry and entry.get("outcome") == HELD else None


def recorded_release(audit: AuditLog) -> str | None:
    """The release the newest change left the fleet on; None when no record says (none yet, a failed rollback)."""
    entry = _newest_change(audit)
    if entry is None:
        return None
    outcome = entry.get("outcome")
    if outcome in ("released", HELD) or (entry.get("kind") == "rollback" and outcome == "rolled back"):
        return entry.get("release_id")
    if outcome == "rolled back":  # a release that failed: back on its previous release, or never switched from it
        return entry.get("previous")
    return None


def _newest_change(audit: AuditLog) -> dict[str, Any] | None:
    for entry in reversed(audit.entries()):
        if entry.get("kind") in FLEET_KINDS and entry.get("outcome") != "refused":
            return entry
    return None
