"""The committed project and stack files: they name only settings the program knows, hold no real secret,
and point the CLI at the program and the policy pack."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import tomllib

import pulumi_aws
import pytest
import yaml
from packaging.requirements import Requirement

from infra import settings
from infra.offline.runner import PROGRAM, PROJECT
from infra.offline.stackfiles import REPO, raw_config, stacks

SECRET_KEYS = {"golive:dbPassword"}
REQUIRED = {
    f"golive:{settings.config_key(f.name)}"
    for f in dataclasses.fields(settings.Settings)
    if f.default is dataclasses.MISSING and f.name not in settings.DERIVED
}


def test_the_project_runs_the_infra_program_in_the_repository_virtualenv():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"]["name"] == "python"
    assert (REPO / project["main"]).resolve() == PROGRAM and (PROGRAM / "__main__.py").is_file()
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


def test_there_are_two_stacks():
    assert stacks() == ["production", "staging"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_stack_file_names_only_known_settings_and_every_required_one(stack):
    config = raw_config(stack)
    known = {f"golive:{key}" for key in settings.config_keys()} | SECRET_KEYS
    assert set(config) - known - {"aws:region"} == set()
    assert set(config) >= REQUIRED and "aws:region" in config


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_secrets_are_pulumi_secrets_holding_placeholders(stack):
    config = raw_config(stack)
    secure = {key for key, value in config.items() if isinstance(value, dict)}
    assert secure == SECRET_KEYS
    for key in secure:
        assert set(config[key]) == {"secure"} and config[key]["secure"].startswith("PLACEHOLDER")


def test_the_policy_pack_runs_in_the_repository_virtualenv():
    pack = REPO / "infra" / "policies"
    project = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (pack / project["runtime"]["options"]["virtualenv"]).resolve() == (REPO / ".venv").resolve()


def test_the_operator_readme_documents_every_setting_and_output():
    readme = (REPO / "infra" / "README.md").read_text()
    for key in settings.config_keys():
        assert f"golive:{key}" in readme, f"infra/README.md does not document golive:{key}"
    for output in ("hosts", "drain_seconds", "target_group_arn", "backup_bucket", "schema_version", "prometheus_url"):
        assert output in readme


def test_pulumi_aws_is_pinned_to_the_major_the_program_uses():
    """The program uses 7.x's S3 resources (aws.s3.Bucket without inline rules, BucketVersioning, …: 6.x's BucketV2,
    BucketVersioningV2, …), so 6.x, whose aws.s3.Bucket is the legacy inline-rules bucket, may not install."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["infra"]
    (pin,) = [Requirement(r).specifier for r in extra if Requirement(r).name == "pulumi-aws"]
    installed = importlib.metadata.version("pulumi-aws")
    major = int(installed.split(".")[0])
    assert major == 7 and installed in pin
    assert not pin.contains("6.99.0") and not pin.contains("8.0.0")
    for name in ("BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration"):
        assert hasattr(pulumi_aws.s3, name), name
