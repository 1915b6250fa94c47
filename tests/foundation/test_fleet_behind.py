"""A web host behind the fleet's release (replaced or added: no release; or on another one) is told apart from a
split fleet: the hosts that have a release agree, or the audit log says which one the last change left them on."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.audit import AuditLog
from foundation.environment import load_environment
from foundation.fleet import FleetSplit, fleet_release
from foundation.holds import recorded_release
from tests.support.fleet_states import NO_RELEASE, ON_R2, ON_R3, HostState, fleet


@pytest.fixture
def lab(lab_state):
    return load_environment("lab", state=lab_state)


def test_a_host_without_a_release_is_behind_the_release_the_others_run(lab):
    deployed = fleet(lab, {"web1": ON_R3, "web2": NO_RELEASE}).deployed()
    assert (deployed.current, deployed.current_version, deployed.previous) == ("r3", "v3", "r2")
    assert deployed.behind == {"web2": None} and deployed.lag("web2") == "no release"
    assert deployed.releases == (), "a rollback must not count on a release the new host lacks"


def test_a_host_on_another_release_is_behind_the_one_the_audit_log_says_the_fleet_is_on(lab):
    deployed = fleet(lab, {"web1": ON_R3, "web2": ON_R2}).deployed(recorded="r3")
    assert deployed.current == "r3" and deployed.behind == {"web2": "r2"}
    assert deployed.lag("web2") == "has r2, fleet is on r3"
    assert deployed.releases == ("r1", "r2")


def test_a_split_nothing_resolves_is_still_refused_or_shown_as_split(lab):
    hosts = fleet(lab, {"web1": ON_R3, "web2": ON_R2})
    with pytest.raises(FleetSplit, match=r"web1: r3, web2: r2"):
        hosts.deployed()
    with pytest.raises(FleetSplit):
        hosts.deployed(recorded="r9")  # a release no host runs decides nothing
    split = hosts.deployed(split_ok=True)
    assert split.current is None and split.behind == {} and split.hosts == {"web1": "r3", "web2": "r2"}


def test_a_fleet_on_one_release_or_none_has_nothing_behind(lab):
    assert fleet(lab, {"web1": ON_R3, "web2": ON_R3}).deployed().behind == {}
    first = fleet(lab, {"web1": NO_RELEASE, "web2": NO_RELEASE}).deployed(recorded="r3")
    assert first.current is None and first.behind == {}, "hosts without any release are a first release"
    assert fleet_release({"web1": None, "web2": "r3", "web3": "r3"}) == "r3"


def test_the_audit_log_says_which_release_the_newest_change_left_the_fleet_on(tmp_path: Path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    assert recorded_release(audit) is None
    audit.append({"kind": "release", "release_id": "r3", "previous": "r2", "outcome": "released"})
    assert recorded_release(audit) == "r3"
    audit.append({"kind": "release", "release_id": "r4", "previous": "r3", "outcome": "refused"})
    assert recorded_release(audit) == "r3", "a refusal changes nothing"
    audit.append({"kind": "catch-up", "release_id": "r3", "outcome": "catch-up failed"})
    assert recorded_release(audit) == "r3", "a catch-up does not change the fleet's release"
    audit.append({"kind": "release", "release_id": "r4", "previous": "r3", "outcome": "rolled back"})
    assert recorded_release(audit) == "r3"
    audit.append({"kind": "rollback", "release_id": "r2", "outcome": "rolled back"})
    assert recorded_release(audit) == "r2"
    audit.append({"kind": "release", "release_id": "r5", "previous": "r2", "outcome": "held"})
    assert recorded_release(audit) == "r5"
    audit.append({"kind": "rollback", "release_id": "r2", "outcome": "rollback failed"})
    assert recorded_release(audit) is None


def test_hosts_behind_follow_the_host_state_they_answered(lab):
    odd = HostState("r2", None, "v2", ("r2",))
    assert fleet(lab, {"web1": ON_R3, "web2": odd}).deployed(recorded="r2").behind == {"web1": "r3"}
