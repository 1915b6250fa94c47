"""A person's sign-off of a manual box: appended to the environment's hash-chained audit log (kind
"signoff": item, text, by, note; the log adds the time), so a release record can include it and nobody can
quietly edit it. The newest sign-off of an item counts; `--revoke` records a withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.catalogue import Item
from foundation.audit import AuditLog

KIND = "signoff"


@dataclass(frozen=True)
class Signoff:
    item: str
    by: str
    at: str
    note: str = ""

    def describe(self) -> str:
        return f"signed off by {self.by} at {self.at[:19]}Z" + (f": {self.note}" if self.note else "")


def record(audit: AuditLog, env: str, item: Item, by: str, note: str = "", *, revoke: bool = False) -> dict[str, Any]:
    if not by.strip():
        raise ValueError("--by NAME is required: a sign-off names the person")
    entry = {"kind": KIND, "env": env, "item": item.id, "text": item.text, "by": by.strip(), "note": note}
    if revoke:
        entry["revoked"] = True
    return audit.append(entry)


def latest(audit: AuditLog) -> dict[str, Signoff]:
    """The standing sign-off of each item (a later revocation removes it)."""
    standing: dict[str, Signoff] = {}
    for entry in audit.entries():
        if entry.get("kind") != KIND:
            continue
        if entry.get("revoked"):
            standing.pop(entry["item"], None)
        else:
            standing[entry["item"]] = Signoff(entry["item"], entry["by"], entry["at"], entry.get("note", ""))
    return standing
