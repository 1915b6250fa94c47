"""An environment's typed sections: defaults from one place, unknown keys and wrong types named with the file's
environment and the key."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from foundation.environment import ENVIRONMENTS_DIR, Environment, EnvironmentInvalid, parse_environment
from foundation.metrics.gates import Thresholds
from foundation.sections import LoadTest, SyntheticTraffic


def local(**changes: Any) -> dict[str, Any]:
    return {**yaml.safe_load((ENVIRONMENTS_DIR / "local.yml").read_text()), **changes}


def minimal(**changes: Any) -> dict[str, Any]:
    raw = {"name": "x", "transport": "local", "service_manager": "supervisord", "root": "state/x",
           "hosts": {"web": ["h"]}, "instances": [{"name": "a", "port": 1}], "entry_url": "http://h"}  # fmt: skip
    return {**raw, **changes}


def test_what_a_description_leaves_out_takes_the_sections_defaults():
    env = parse_environment(minimal())
    assert env.gates == Thresholds() and env.synthetic_traffic == SyntheticTraffic() and env.loadtest == LoadTest()
    assert (env.keep_releases, env.lock_ttl_seconds, env.batch_size) == (
        Environment.keep_releases,
        Environment.lock_ttl_seconds,
        Environment.batch_size,
    )
    assert env.monitoring is None and env.checks == {}


def test_sections_are_typed():
    env = parse_environment(local(loadtest={"required": True, "users": 7, "duration": 9, "knobs": {"A": 1}}))
    assert env.loadtest == LoadTest(required=True, users=7, duration=9.0, knobs={"A": "1"})
    assert parse_environment(local(synthetic_traffic={"enabled": True, "rate_per_second": 2})).synthetic_traffic == (
        SyntheticTraffic(True, 2.0)
    )
    assert parse_environment(local(gates={"window_seconds": 5})).gates.window_seconds == 5.0


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"loadtest": {"users": "many"}}, "environment local: loadtest.users must be a number, not 'many'"),
        ({"loadtest": {"users": 2.5}}, "loadtest.users must be a whole number"),
        ({"loadtest": {"users": 0}}, "loadtest.users must be positive"),
        ({"loadtest": {"required": "yes"}}, "loadtest.required must be true or false"),
        ({"loadtest": ["required"]}, "environment local: loadtest takes a mapping"),
        ({"synthetic_traffic": {"enabled": True, "rate": 3}}, r"synthetic_traffic: unknown keys rate \(known:"),
        ({"gates": {"window_seconds": "soon"}}, "environment local: gates: gate threshold window_seconds must be"),
        ({"gates": {"max_error_rate": 5}}, "gates: gate threshold max_error_rate is a fraction"),
        ({"batch_size": 0}, "environment local: batch_size must be at least 1"),
        ({"lock_ttl_seconds": "2m"}, "environment local: lock_ttl_seconds must be a number"),
        ({"worker": "no"}, "environment local: worker must be true or false"),
        ({"database": "sqlite"}, "environment local: database must be one of embedded, url, tunnel, not 'sqlite'"),
        ({"checks": ["tls"]}, "environment local: checks takes a mapping"),
        ({"hosts": {"web": "h1"}}, r"hosts takes a mapping of role -> \[host"),
        ({"instances": [{"name": "a"}]}, r"instances takes a list of \{name, port\}"),
    ],
)
def test_a_wrong_key_is_named(changes: dict[str, Any], says: str):
    with pytest.raises(EnvironmentInvalid, match=says):
        parse_environment(local(**changes))


def test_a_missing_required_key_is_named():
    raw = minimal()
    del raw["entry_url"]
    with pytest.raises(EnvironmentInvalid, match="environment x: 'entry_url' is missing"):
        parse_environment(raw)
