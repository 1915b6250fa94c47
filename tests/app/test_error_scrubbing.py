"""The Sentry event scrubber: an event leaves the process redacted as a log line is."""

from __future__ import annotations

import json

from app.observability.error_tracking import ErrorTracker, scrub_event
from app.observability.logging_json import register_secret
from app.settings import load_settings

SECRET = "s3cr3t-for-the-scrubber-test"


def test_scrub_event_redacts_phone_numbers_secrets_and_sensitive_keys():
    register_secret(SECRET)
    event = {
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": f"push for +254 712 345 678 failed with {SECRET}",
                    "stacktrace": {"frames": [{"vars": {"phone": "0712345678", "api_key": "abcdef123456"}}]},
                }
            ]
        },
        "extra": {"msisdn": 254712345678},
        "environment": "test",
        "release": "2026.11.26-1",
        "event_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    }

    scrubbed = scrub_event(event, {})
    text = json.dumps(scrubbed)

    for raw in (SECRET, "712 345 678", "0712345678", "254712345678", "abcdef123456"):
        assert raw not in text
    assert "254712***678" in text
    assert scrubbed["exception"]["values"][0]["type"] == "RuntimeError"
    assert (scrubbed["environment"], scrubbed["release"]) == ("test", "2026.11.26-1")
    assert scrubbed["event_id"] == event["event_id"]


def test_without_a_dsn_there_is_no_client(tmp_path):
    tracker = ErrorTracker.from_settings(load_settings(env="test", state_dir=tmp_path))
    assert not tracker.enabled
    tracker.capture(RuntimeError("nowhere to go"))  # does nothing, raises nothing
    tracker.close()
