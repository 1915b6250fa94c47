"""Helpers for the infrastructure tests (imported as `tests.infra.helpers`)."""

from __future__ import annotations

import dataclasses

from infra.settings import Settings

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfflineTestKeyOnlyxxxxxxxxxxxxxxxxxxxxxxxxxxx test@golive"
TAGS = {"Project": "golive", "Environment": "staging", "ManagedBy": "pulumi"}


def make_settings(**changes) -> Settings:
    """A valid Settings for the staging stack, with `changes` applied."""
    base = Settings(
        environment="staging",
        region="eu-west-1",
        ssh_public_key=PUBLIC_KEY,
        domain="staging.pay.example.com",
        hosted_zone="pay.example.com",
        alarm_email="ops@example.com",
    )
    return dataclasses.replace(base, **changes)
