"""infra/settings.py: config keys, reading a stack's config the way the CLI passes it, and the checks
that name what is wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pulumi
import pytest

from infra import settings
from infra.offline.runner import install_mocks
from tests.infra.helpers import PUBLIC_KEY, make_settings

REQUIRED = {
    "golive:sshPublicKey": PUBLIC_KEY,
    "golive:domain": "pay.example.com",
    "golive:hostedZone": "pay.example.com",
    "golive:alarmEmail": "ops@example.com",
}


def load(config: dict[str, str]) -> settings.Settings:
    install_mocks("staging", config, [], region="eu-west-1")
    return settings.load(pulumi.Config("golive"), "staging", "eu-west-1")


def test_config_keys_are_camel_case_field_names():
    assert settings.config_key("db_backup_retention_days") == "dbBackupRetentionDays"
    assert settings.config_key("drain_seconds") == "drainSeconds"
    keys = settings.config_keys()
    assert keys["instanceCount"] == "instance_count"
    assert "environment" not in keys and "region" not in keys


def test_defaults_apply_when_the_stack_sets_only_the_required_keys():
    s = load(REQUIRED)
    assert (s.instance_count, s.drain_seconds, s.service_port, s.db_engine_version) == (2, 30, 8000, "15")
    assert s.access == "ssm" and s.admin_cidr is None
    assert s.tags == {"Project": "golive", "Environment": "staging", "ManagedBy": "pulumi"}


def test_values_arrive_as_strings_and_are_typed():
    s = load(
        {
            **REQUIRED,
            "golive:instanceCount": "4",
            "golive:dbMultiAz": "true",
            "golive:alarmP95Seconds": "0.75",
            "golive:drainSeconds": "45",
        }
    )
    assert s.instance_count == 4 and s.db_multi_az is True
    assert s.alarm_p95_seconds == 0.75 and s.drain_seconds == 45


def test_a_missing_required_key_is_named():
    config = dict(REQUIRED)
    del config["golive:domain"]
    with pytest.raises(pulumi.ConfigMissingError, match="golive:domain"):
        load(config)


def test_a_malformed_number_is_refused():
    with pytest.raises(pulumi.ConfigTypeError, match="golive:instanceCount"):
        load({**REQUIRED, "golive:instanceCount": "two"})


def test_invalid_configuration_raises_with_every_problem():
    with pytest.raises(ValueError) as caught:
        load({**REQUIRED, "golive:zoneCount": "1", "golive:access": "ssh"})
    assert "golive:zoneCount" in str(caught.value) and "golive:adminCidr" in str(caught.value)


def test_valid_settings_have_no_problems():
    assert settings.validate(make_settings()) == []
    assert settings.validate(make_settings(access="ssh", admin_cidr="10.99.0.0/16")) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"vpc_cidr": "10.0.0.0/8"}, "golive:vpcCidr"),
        ({"vpc_cidr": "not-a-cidr"}, "golive:vpcCidr"),
        ({"zone_count": 1}, "golive:zoneCount"),
        ({"instance_count": 0}, "golive:instanceCount"),
        ({"architecture": "sparc"}, "golive:architecture"),
        ({"access": "telnet"}, "golive:access"),
        ({"access": "ssh"}, "golive:adminCidr"),
        ({"admin_cidr": "10.99.0.0/33"}, "golive:adminCidr"),
        ({"ssh_public_key": "AAAA"}, "golive:sshPublicKey"),
        ({"drain_seconds": 4000}, "golive:drainSeconds"),
        ({"domain": "pay.example.org"}, "golive:domain"),
        ({"db_engine_version": "fifteen"}, "golive:dbEngineVersion"),
        ({"db_storage_gb": 10}, "golive:dbStorageGb"),
        ({"db_max_storage_gb": 10}, "golive:dbMaxStorageGb"),
        ({"alarm_email": "ops"}, "golive:alarmEmail"),
        ({"health_check_path": "api/health"}, "golive:healthCheckPath"),
    ],
)
def test_each_problem_names_its_key(changes, named):
    problems = settings.validate(make_settings(**changes))
    assert len(problems) == 1 and problems[0].startswith(named), problems


def test_a_server_newer_than_the_hosts_pg_dump_is_refused_with_the_way_out():
    (problem,) = settings.validate(make_settings(db_engine_version="16"))
    assert "pg_dump 15" in problem and "postgresql-client-16" in problem and "golive:hostPgClientMajor" in problem
    assert settings.validate(make_settings(db_engine_version="16", host_pg_client_major=16)) == []
    assert settings.validate(make_settings(db_engine_version="15.7")) == []


def test_every_field_has_a_comment_in_the_one_documented_place():
    text = Path(settings.__file__).read_text()
    for field in dataclasses.fields(settings.Settings):
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{field.name}:"))
        assert "#" in line, f"{field.name} has no comment in infra/settings.py"
