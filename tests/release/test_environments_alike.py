"""lab, staging and production are described alike: one code path, differing only in data. Their descriptions
(release/environments/<name>.yml) have the same keys, and the same keys in each section, except the differences listed
here with their reasons, the one place they are listed. Values differ freely (the balancer's kind, the gates'
thresholds, synthetic traffic, the database's way in…); so do the contents of a mapping below a section's key (the
firewall's addresses). A key added to one description only fails this test until it is added to the others or
listed here with why."""

from __future__ import annotations

from typing import Any

import yaml

from foundation.environment import ENVIRONMENTS_DIR

ALIKE = ("lab", "staging", "production")

# key (section.key for a section's) -> (the descriptions that have it, why the others do not)
DIFFERENCES: dict[str, tuple[frozenset[str], str]] = {
    "ssh_config": (
        frozenset({"lab"}),
        "the lab's way in: its own key, known_hosts and Host entries, written by `fab lab.up`; staging and production "
        "are reached as their stack outputs' access says, through the operator's ~/.ssh/config",
    ),
    "backup_host": (
        frozenset({"lab"}),
        "the lab's PostgreSQL runs on a host of its own, where the release takes and proves its backup "
        "(golive-backup); RDS has no host to log in to, so staging and production back up from the controller",
    ),
    "loadtest.knobs": (
        frozenset({"staging", "production"}),
        "no simulator behind staging and production: their load test runs read-only (buyers and admin weighted 0)",
    ),
    "checks.tls_ca_file": (
        frozenset({"lab"}),
        "the lab's certificates chain to its own CA; staging's and production's to the system's trust store",
    ),
    "checks.firewall": (
        frozenset({"lab"}),
        "what the firewall must enforce, by address: the lab's addresses are its plan's; staging and production "
        "set theirs once Pulumi has given their balancer one (commented in their files)",
    ),
    "checks.advisory": (
        frozenset({"lab"}),
        "boxes the lab reports without blocking: CI's test evidence, an advisory feed out of its reach, a fresh lab's "
        "first backup; staging and production block on every box",
    ),
    "secrets.name": (
        frozenset({"staging", "production"}),
        "staging's and production's secrets are kept in an AWS store (foundation/secrets/), named and in a region; "
        "the lab's are generated per lab into its vault file, which has neither",
    ),
    "secrets.region": (
        frozenset({"staging", "production"}),
        "the region of their AWS store (see secrets.name); the lab's vault file is on the controller",
    ),
    "checks.unsigned": (
        frozenset({"production"}),
        "production alone refuses a box only a person can tick until it is signed (fab signoff)",
    ),
    "checks.expected_flags": (
        frozenset({"production"}),
        "the feature flags production must run with once they are rolled out",
    ),
}


def keys(description: dict[str, Any]) -> set[str]:
    """Its keys, and `section.key` for the keys of each section (a mapping)."""
    found = set(description)
    for key, value in description.items():
        if isinstance(value, dict):
            found |= {f"{key}.{inner}" for inner in value}
    return found


def description(name: str) -> dict[str, Any]:
    return yaml.safe_load((ENVIRONMENTS_DIR / f"{name}.yml").read_text())


def differences(described: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """Each key not every description has, and which have it."""
    every = set.union(*described.values())
    having = {key: frozenset(name for name, found in described.items() if key in found) for key in every}
    return {key: names for key, names in having.items() if len(names) < len(described)}


def test_lab_staging_and_production_differ_only_where_listed():
    found = differences({name: keys(description(name)) for name in ALIKE})
    unlisted = {key: sorted(names) for key, names in found.items() if key not in DIFFERENCES}
    assert not unlisted, f"keys in some descriptions only, with no reason in {__name__}.DIFFERENCES: {unlisted}"
    wrong = {key: sorted(names) for key, names in found.items() if key in DIFFERENCES and DIFFERENCES[key][0] != names}
    assert not wrong, f"keys listed for other descriptions than have them: {wrong}"
    stale = sorted(set(DIFFERENCES) - set(found))
    assert not stale, f"listed differences that are no longer (remove them): {stale}"


def test_a_key_added_to_one_description_only_is_named():
    described = {name: keys(description(name)) for name in ALIKE}
    described["staging"] |= {"batch_pause_seconds", "gates.min_users"}
    found = differences(described)
    assert found["batch_pause_seconds"] == found["gates.min_users"] == frozenset({"staging"})
    assert not {"batch_pause_seconds", "gates.min_users"} & set(DIFFERENCES)
