"""Pure parts: what blocks (required, advisory, could-not-check policy), the sign-off lookup, and the
rendering of a run as JSON and Markdown (files written where `fab check` says)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from checks import registry, report
from checks.catalogue import Item, load, share
from checks.model import Result, Status, failed, passed, unverified, worst
from checks.runner import Outcome, PhaseRun, is_required, manual_result, run_phase
from checks.signoffs import latest, record
from foundation.audit import AuditLog

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _item(ident: str, **kwargs) -> Item:
    return Item(id=ident, section="S / 1. T", text=f"box {ident} | pipe", phase="pre-deploy", **kwargs)


def _run(*outcomes: Outcome, policy: str = "fail") -> PhaseRun:
    return PhaseRun("local", "pre-deploy", list(outcomes), policy)


def test_a_required_failure_blocks_an_advisory_one_does_not():
    run = _run(
        Outcome(_item("a", check="x"), failed("broken"), required=True),
        Outcome(_item("b", check="y"), failed("broken too"), required=False),
        Outcome(_item("c", check="z"), passed("fine"), required=True),
    )
    assert [o.item.id for o in run.blocking] == ["a"]
    assert report.verdict(run) == "fail"
    assert run.record()["failed"] == ["a", "b"] and run.record()["blocking"] == ["a"]


def test_could_not_check_blocks_only_where_the_environment_says_fail():
    outcome = Outcome(_item("a", check="x"), unverified("source unreachable"), required=True)
    assert [o.item.id for o in _run(outcome, policy="fail").blocking] == ["a"]
    assert _run(outcome, policy="warn").blocking == []
    assert report.verdict(_run(outcome, policy="warn")) == "pass with warnings"


def test_advisory_list_names_ids_or_checks():
    item = _item("a", check="tests.unit")
    assert is_required(item, [])
    assert not is_required(item, ["a"])
    assert not is_required(item, ["tests.unit"])
    assert not is_required(_item("b", check="x", required=False), [])


def test_worst_of_several_measurements():
    assert worst([passed("one"), failed("two"), unverified("three")]).status == Status.FAIL
    assert worst([passed("one"), unverified("three")]).status == Status.UNVERIFIED
    assert worst([passed("one", "cmd1"), passed("two", "cmd2")]).command == "cmd1; cmd2"


def test_signoffs_are_recorded_in_the_audit_chain_and_revocable(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    item = _item("pre-1-6", signoff="Technical Lead", why="human")
    release = {"release_id": "r4", "version": "v4"}
    now = datetime.now(UTC)
    assert manual_result(item, "local", None, release, now).status == Status.NEEDS_SIGNOFF
    record(audit, "local", item, "Wanjiru Kamau", "PR #42 approved", release="v4", valid_for=timedelta(hours=1))
    standing = latest(audit)
    result = manual_result(item, "local", standing["pre-1-6"], release, now)
    assert result.status == Status.SIGNED_OFF and "Wanjiru Kamau" in result.detail and "PR #42" in result.detail
    record(audit, "local", item, "Wanjiru Kamau", revoke=True)
    assert "pre-1-6" not in latest(audit)
    assert audit.verify().ok and audit.verify().count == 2


def test_manual_boxes_of_a_phase_need_a_signoff_until_signed(make_context):
    ctx = make_context(record={"release_id": "r9", "version": "v9"})
    items = [i for i in load(known_checks=set(registry.load())) if i.phase == "go-live" and i.kind == "manual"]
    run = run_phase(ctx, "go-live", items=items)
    assert {o.result.status for o in run.outcomes} == {Status.NEEDS_SIGNOFF}
    assert "--release r9" in run.outcomes[0].result.detail
    record(ctx.audit, "local", items[0], "Otieno", release="r9", valid_for=timedelta(hours=24))
    run = run_phase(ctx, "go-live", items=items)
    assert run.outcomes[0].result.status == Status.SIGNED_OFF
    assert items[0].id in run.record()["signed_off"]


def test_json_and_markdown_reports(tmp_path):
    items = load(known_checks=set(registry.load()))
    run = _run(
        Outcome(_item("a", check="x"), Result(Status.PASS, "measured 3", "curl x", 3), required=True),
        Outcome(_item("b", signoff="QA Lead", why="human"), Result(Status.NEEDS_SIGNOFF, "QA Lead signs"), True),
    )
    document = report.as_json(run, share(items), at=AT)
    assert document["verdict"] == "pass" and document["counts"] == {"pass": 1, "needs sign-off": 1}
    assert document["automated_share"]["ratio"] >= 0.85
    assert document["results"][0] | {"value": 3} == document["results"][0]
    markdown = report.as_markdown(document)
    assert "| a | pass | yes | box a \\| pipe | measured 3 | curl x |" in markdown
    json_path, md_path = report.write(document, tmp_path)
    assert json.loads(json_path.read_text())["phase"] == "pre-deploy"
    assert (tmp_path / "latest-pre-deploy.md").read_text() == md_path.read_text()


def test_unsigned_boxes_block_only_where_the_environment_says_so():
    outcome = Outcome(_item("a", signoff="QA Lead", why="human"), Result(Status.NEEDS_SIGNOFF, "QA Lead signs"), False)
    assert PhaseRun("production", "pre-deploy", [outcome], "fail", "fail").blocking == [outcome]
    assert PhaseRun("local", "pre-deploy", [outcome], "fail", "warn").blocking == []
