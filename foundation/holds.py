"""A release held for a person, as the audit log says: the newest record that changed the fleet (a release, a
rollback or a promote; a refusal changes nothing) has the outcome "held". The hold lives there, not in a process:
`fab promote` finds it in a later one, `fab signoff` signs for it by default, the checks judge sign-offs against it."""

from __future__ import annotations

from typing import Any

from foundation.audit import AuditLog

HELD = "held"
FLEET_KINDS = ("release", "rollback", "promote")


def held_release(audit: AuditLog) -> dict[str, Any] | None:
    """The held release's record, or None when the newest change to the fleet was not a hold."""
    for entry in reversed(audit.entries()):
        if entry.get("kind") in FLEET_KINDS and entry.get("outcome") != "refused":
            return entry if entry.get("outcome") == HELD else None
    return None
