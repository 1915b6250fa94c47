"""`fab status` says which web host is behind the fleet's release and how, and what a held release waits for. The
web hosts answer their state from a table; the lock is read from a real database; no instance answers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from foundation.environment import load_environment
from foundation.reporter import Reporter
from release.controller import Controller
from release.exit_codes import ExitCode
from release.operations import inspecting
from tests.support.fleet_states import NO_RELEASE, ON_R2, ON_R3, HostState, fleet
from tests.support.lab_outputs import lab_state_in


def _status(tmp_path: Path, db_url: str, monkeypatch, web2: HostState, *records: dict) -> str:
    def no_instance(url, **_):
        raise httpx.ConnectError(f"nothing answers at {url}")

    monkeypatch.setattr(inspecting.httpx, "get", no_instance)
    output = io.StringIO()
    state = lab_state_in(tmp_path)  # the controller's state, the lab's stack outputs in it as `fab lab.up` writes them
    env = load_environment("lab", state=state)
    controller = Controller(env, state=state, reporter=Reporter(Console(file=output, width=300)), db_url=db_url)
    controller.__dict__["fleet"] = fleet(env, {"web1": ON_R3, "web2": web2})
    for record in records:
        controller.audit.append(record)
    assert inspecting.status(controller) == ExitCode.OK
    return re.sub(r" +", " ", output.getvalue())


RELEASED = {"kind": "release", "release_id": "r3", "version": "v3", "previous": "r2", "outcome": "released"}


def test_a_host_without_a_release_is_shown_behind(tmp_path, db_url, monkeypatch):
    said = _status(tmp_path, db_url, monkeypatch, NO_RELEASE)
    assert "lab: current r3 (v3), previous r2" in said
    assert re.search(r"web1 │ r3 │ *│", said), said
    assert re.search(r"web2 │ - │ behind: no release", said), said
    assert "`fab release --env lab --version v3` brings the hosts behind to r3" in said


def test_a_host_on_another_release_is_shown_behind_the_fleets(tmp_path, db_url, monkeypatch):
    said = _status(tmp_path, db_url, monkeypatch, ON_R2, RELEASED)
    assert re.search(r"web2 │ r2 │ behind: has r2, fleet is on r3", said), said


def test_a_split_nothing_resolves_is_shown_not_refused(tmp_path, db_url, monkeypatch):
    said = _status(tmp_path, db_url, monkeypatch, ON_R2)
    assert "current - (-)" in said and "web hosts run different releases" in said
    assert re.search(r"web2 │ r2 │ *│", said) and "behind" not in said


@pytest.mark.parametrize(
    ("hold", "expected"),
    [
        (
            {"phase": "verify", "reason": "held for sign-off: …", "waiting_for": ["post-1-6", "post-4-6"]},
            "waiting for sign-off of post-1-6, post-4-6 (`fab signoff --env lab --item ID --by NAME`, then "
            "`fab promote --env lab`)",
        ),
        (
            {"phase": "gates", "reason": "gates inconclusive (too few samples)", "waiting_for": []},
            "gates inconclusive (too few samples): waiting for a person (`fab promote --env lab` finishes it, "
            "`fab rollback --env lab` undoes it)",
        ),
    ],
)
def test_a_held_release_is_shown_with_what_it_waits_for(tmp_path, db_url, monkeypatch, hold, expected):
    held = {**RELEASED, "outcome": "held", "hold": hold}
    said = _status(tmp_path, db_url, monkeypatch, ON_R3, held)
    assert "held: r3 (v3) since " in said and expected in said, said
    assert "behind" not in said


def test_no_hold_is_shown_once_the_release_is_promoted(tmp_path, db_url, monkeypatch):
    held = {**RELEASED, "outcome": "held", "hold": {"waiting_for": ["post-1-6"]}}
    said = _status(tmp_path, db_url, monkeypatch, ON_R3, held, {**RELEASED, "promoted_from": 1})
    assert "held:" not in said
