"""A person's sign-off of a manual box: appended to the environment's hash-chained audit log (kind
"signoff": item, text, by, note, the release it covers and when it expires; the log adds the time), so a release
record can include it and nobody can quietly edit it. The newest sign-off of an item stands; `--revoke` records a
withdrawal.

A sign-off counts for one release (its id or its version) until it expires. `any` covers every release, but not
for a box of a phase that verifies one deployed release (RELEASE_BOUND): those are signed for that release."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from checks.catalogue import Item
from foundation.audit import AuditLog

KIND = "signoff"
ANY = "any"
RELEASE_BOUND = ("deploy", "post-deploy")
_DURATION = re.compile(r"(\d+)\s*([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d`: how long a sign-off stays valid."""
    match = _DURATION.fullmatch(str(text).strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"a sign-off's validity is a duration such as 30m, 24h or 7d, not {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Signoff:
    item: str
    by: str
    at: str
    note: str = ""
    release: str | None = None  # a release id or version, or ANY; None: recorded before sign-offs named one
    expires: str | None = None

    def describe(self) -> str:
        covers = f" for release {self.release}" if self.release else ""
        return f"signed off by {self.by} at {self.at[:19]}Z{covers}" + (f": {self.note}" if self.note else "")

    def why_not(self, release: Mapping[str, Any] | None, now: datetime) -> str | None:
        """Why this sign-off does not count for `release` (a release record: release_id, version) at `now`; None
        when it does."""
        if self.release is None or self.expires is None:
            return f"signed at {self.at[:19]}Z without naming a release or an expiry: sign again"
        if now >= datetime.fromisoformat(self.expires):
            return f"expired at {self.expires[:19]}Z"
        if self.release == ANY:
            return None
        names = {release.get("release_id"), release.get("version")} if release else set()
        if self.release not in names:
            this = release.get("release_id") if release else None
            return f"signed for release {self.release}, this is {this or 'no release'}"
        return None


def record(
    audit: AuditLog,
    env: str,
    item: Item,
    by: str,
    note: str = "",
    *,
    release: str | None = None,
    valid_for: timedelta | None = None,
    revoke: bool = False,
) -> dict[str, Any]:
    if not by.strip():
        raise ValueError("--by NAME is required: a sign-off names the person")
    entry: dict[str, Any] = {
        "kind": KIND,
        "env": env,
        "item": item.id,
        "text": item.text,
        "by": by.strip(),
        "note": note,
    }
    if revoke:
        return audit.append({**entry, "revoked": True})
    if not release:
        raise ValueError(f"a sign-off names the release it covers: --release ID (or {ANY} for a box not tied to one)")
    if release == ANY and item.phase in RELEASE_BOUND:
        raise ValueError(f"{item.id} is a {item.phase} box: it is signed for one release (--release ID), never {ANY}")
    if valid_for is None or valid_for <= timedelta(0):
        raise ValueError("a sign-off expires: give how long it is valid (e.g. 24h)")
    expires = datetime.now(UTC) + valid_for
    return audit.append({**entry, "release": release, "expires": expires.isoformat(timespec="seconds")})


def latest(audit: AuditLog) -> dict[str, Signoff]:
    """The standing sign-off of each item (a later revocation removes it)."""
    standing: dict[str, Signoff] = {}
    for entry in audit.entries():
        if entry.get("kind") != KIND:
            continue
        if entry.get("revoked"):
            standing.pop(entry["item"], None)
        else:
            standing[entry["item"]] = Signoff(
                entry["item"],
                entry["by"],
                entry["at"],
                entry.get("note", ""),
                entry.get("release"),
                entry.get("expires"),
            )
    return standing
