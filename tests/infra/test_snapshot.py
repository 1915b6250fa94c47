"""The golden snapshots (infra/snapshots/, infra/examples/): the committed files are what the program
produces; a change to the program shows up as a diff; one command refreshes them."""

from __future__ import annotations

import json
import shutil

import pytest

from infra import snapshot
from infra.offline.runner import StackRun, run_stack


def test_the_committed_snapshot_matches_the_program(each_stack: StackRun):
    diffs = snapshot.differences(snapshot.rendered(each_stack))
    assert not diffs, "".join(diffs) + f"\nthe infrastructure changed: review the diff, then run {snapshot.REFRESH}"


def test_a_change_to_the_infrastructure_shows_as_a_diff():
    grown = run_stack("staging", {"golive:instanceCount": 3})
    diffs = snapshot.differences(snapshot.rendered(grown))
    assert len(diffs) == 2  # the resource graph and the outputs example
    added = [line for line in "".join(diffs).splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("web-3" in line for line in added)
    assert any('"aws:ec2/instance:Instance": 4' in line for line in added)  # three web hosts and monitoring


def test_the_snapshot_masks_secrets_and_is_sorted_json(staging: StackRun):
    text = snapshot.render_snapshot(staging)
    (secret,) = staging.secrets
    assert secret not in text
    document = json.loads(text)
    (db,) = [r for r in document["resources"] if r["type"] == "aws:rds/instance:Instance"]
    assert db["inputs"]["password"] == "[secret]"
    assert [r["urn"] for r in document["resources"]] == sorted(r["urn"] for r in document["resources"])
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert document["counts"]["resources"] == len(staging.custom_resources)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The snapshot command pointed at copies of the committed files."""
    for name in ("SNAPSHOTS", "EXAMPLES"):
        copy = tmp_path / name.lower()
        shutil.copytree(getattr(snapshot, name), copy)
        monkeypatch.setattr(snapshot, name, copy)
    return tmp_path


def test_the_command_fails_on_a_difference_and_update_refreshes(scratch, capsys):
    assert snapshot.main(["--stack", "staging"]) == 0
    path = snapshot.snapshot_path("staging")
    path.write_text(path.read_text().replace('"instanceType": "t3.small"', '"instanceType": "t3.nano"'))
    assert snapshot.main(["--stack", "staging"]) == 1
    out = capsys.readouterr().out
    assert '-        "instanceType": "t3.nano",' in out and '+        "instanceType": "t3.small",' in out
    assert snapshot.REFRESH in out
    assert snapshot.main(["--stack", "staging", "--update"]) == 0
    assert '"instanceType": "t3.small"' in path.read_text()
    assert snapshot.main(["--stack", "staging"]) == 0
