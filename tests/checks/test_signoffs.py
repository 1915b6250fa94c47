"""Sign-offs that fit a go-live: each names the release it covers and expires; an expired one, or one for another
release, does not count and the check says why; the held release (from the audit log) is the one judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks import config, registry
from checks.catalogue import load
from checks.model import Status
from checks.runner import manual_result, run_phase
from checks.signoffs import ANY, Signoff, latest, parse_duration, record
from foundation.audit import AuditLog
from foundation.holds import held_release

ITEMS = {item.id: item for item in load(known_checks=set(registry.load()))}
PRE = ITEMS["pre-1-6"]  # a pre-deploy box (code review)
POST = ITEMS["post-1-6"]  # a post-deploy box (timeout scenarios): it verifies one deployed release
HELD = {"kind": "release", "release_id": "20261207120000-v4", "version": "v4", "outcome": "held"}
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _signoff(release: str | None = "v4", expires: datetime | None = NOW + timedelta(hours=1)) -> Signoff:
    return Signoff("post-1-6", "Amina", "2026-12-07T11:00:00+00:00", "", release, expires and expires.isoformat())


@pytest.mark.parametrize(("text", "expected"), [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)),
                                                ("7d", timedelta(days=7)), (" 2h ", timedelta(hours=2))])  # fmt: skip
def test_a_validity_is_minutes_hours_or_days(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["24", "0h", "1w", "", "-1h", "1.5h", "h"])
def test_a_validity_that_is_not_a_duration_is_refused_naming_it(text):
    with pytest.raises(ValueError, match=f"duration such as 30m, 24h or 7d, not {text!r}"):
        parse_duration(text)


def test_the_default_validity_is_one_setting_an_environment_may_override():
    assert parse_duration(config.DEFAULTS["signoff_valid_for"]) == timedelta(hours=24)
    assert config.merged({"signoff_valid_for": "4h"})["signoff_valid_for"] == "4h"
    with pytest.raises(ValueError, match=r"checks setting signoff_valid_for: .*not 'forever'"):
        config.merged({"signoff_valid_for": "forever"})


def test_a_signoff_counts_for_its_release_until_it_expires():
    assert _signoff("v4").why_not(HELD, NOW) is None
    assert _signoff("20261207120000-v4").why_not(HELD, NOW) is None  # by id or by version
    assert _signoff(ANY).why_not(HELD, NOW) is None


def test_an_expired_signoff_does_not_count_and_says_when_it_expired():
    assert _signoff(expires=NOW).why_not(HELD, NOW) == "expired at 2026-12-07T12:00:00Z"
    assert _signoff(ANY, expires=NOW - timedelta(seconds=1)).why_not(HELD, NOW) == "expired at 2026-12-07T11:59:59Z"


def test_a_signoff_for_another_release_does_not_count_and_names_both():
    assert _signoff("v3").why_not(HELD, NOW) == "signed for release v3, this is 20261207120000-v4"
    assert _signoff("v3").why_not(None, NOW) == "signed for release v3, this is no release"


def test_a_signoff_recorded_before_they_named_a_release_must_be_given_again():
    assert "without naming a release or an expiry: sign again" in _signoff(None, None).why_not(HELD, NOW)


def test_the_check_says_why_a_standing_signoff_does_not_count():
    expired = manual_result(POST, "production", _signoff(expires=NOW), HELD, NOW)
    assert expired.status == Status.NEEDS_SIGNOFF
    assert expired.detail.startswith("Amina's sign-off does not count (expired at 2026-12-07T12:00:00Z); QA Lead signs")
    assert "--release 20261207120000-v4" in expired.detail
    other = manual_result(POST, "production", _signoff("v3"), HELD, NOW)
    assert "signed for release v3, this is 20261207120000-v4" in other.detail
    signed = manual_result(POST, "production", _signoff("v4"), HELD, NOW)
    assert signed.status == Status.SIGNED_OFF and "for release v4" in signed.detail


def test_recording_names_the_release_and_the_expiry(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    entry = record(audit, "production", POST, "Amina", release="v4", valid_for=timedelta(hours=2))
    assert entry["release"] == "v4"
    lifetime = datetime.fromisoformat(entry["expires"]) - datetime.fromisoformat(entry["at"])
    assert timedelta(hours=2) - timedelta(seconds=2) < lifetime <= timedelta(hours=2)
    assert latest(audit)["post-1-6"].expires == entry["expires"]


def test_a_signoff_without_a_release_or_a_lifetime_is_refused(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="names the release it covers: --release ID"):
        record(audit, "production", PRE, "Amina", valid_for=timedelta(hours=1))
    with pytest.raises(ValueError, match="expires"):
        record(audit, "production", PRE, "Amina", release="v4")
    assert audit.entries() == []


def test_any_release_is_refused_for_a_box_that_verifies_one_deployed_release(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="post-1-6 is a post-deploy box: it is signed for one release"):
        record(audit, "production", POST, "Amina", release=ANY, valid_for=timedelta(hours=1))
    assert record(audit, "production", PRE, "Amina", release=ANY, valid_for=timedelta(hours=1))["release"] == ANY


def test_the_held_release_is_the_newest_change_to_the_fleet(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    assert held_release(audit) is None
    audit.append({"kind": "release", "release_id": "r3", "outcome": "released"})
    assert held_release(audit) is None
    audit.append({"kind": "release", "release_id": "r4", "outcome": "held"})
    audit.append({"kind": "signoff", "item": "post-1-6"})
    audit.append({"kind": "release", "release_id": "r5", "outcome": "refused"})  # changed nothing
    assert held_release(audit)["release_id"] == "r4"
    audit.append({"kind": "rollback", "release_id": "r3", "outcome": "rolled back"})
    assert held_release(audit) is None


def test_a_phase_judges_signoffs_against_the_held_release(make_context):
    """`fab check` after a hold: the held release is the one a sign-off must cover (not the last released one)."""
    ctx = make_context()
    ctx.audit.append({"kind": "release", "release_id": "r3", "version": "v3", "outcome": "released"})
    ctx.audit.append({"kind": "release", "release_id": "r4", "version": "v4", "outcome": "held"})
    record(ctx.audit, ctx.env.name, POST, "Amina", release="v3", valid_for=timedelta(hours=1))
    run = run_phase(ctx, "post-deploy", items=[POST])
    assert run.outcomes[0].result.status == Status.NEEDS_SIGNOFF
    assert "signed for release v3, this is r4" in run.outcomes[0].result.detail
    record(ctx.audit, ctx.env.name, POST, "Amina", release="r4", valid_for=timedelta(hours=1))
    assert run_phase(ctx, "post-deploy", items=[POST]).outcomes[0].result.status == Status.SIGNED_OFF
