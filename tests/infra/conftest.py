"""Fixtures for the infrastructure tests: everything runs under Pulumi's mocks with a fake AWS
(infra/offline/), no CLI and no cloud.

Pulumi's runtime is process-global. Every run (`run_program`, `run_stack`) therefore installs fresh
mocks, config and root stack before any resource is created: the component modules create nothing when
imported, and the program (infra/__main__.py) is executed by path inside the run, after the mocks are set.
The session fixtures below keep only plain data (the recorded graph), never live Pulumi state.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

from infra.offline.runner import StackRun, run_program, run_stack

with warnings.catch_warnings():
    # pulumi_aws's modules warn, once, on import about deprecated classes golive does not use.
    warnings.simplefilter("ignore", DeprecationWarning)
    for module in ("acm", "cloudwatch", "ec2", "iam", "lb", "rds", "route53", "s3", "sns"):
        getattr(importlib.import_module(f"pulumi_aws.{module}"), "load", None)  # lazy modules load on access


@pytest.fixture
def run():
    """Runs a function as a Pulumi program under the fake AWS and returns the recorded graph."""
    return run_program


@pytest.fixture(scope="session")
def staging() -> StackRun:
    return run_stack("staging")


@pytest.fixture(scope="session")
def production() -> StackRun:
    return run_stack("production")


@pytest.fixture(scope="session", params=["staging", "production"])
def each_stack(request) -> StackRun:
    return request.getfixturevalue(request.param)
