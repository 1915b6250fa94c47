"""The `lab` marker, wherever a test lives: a test marked `lab` boots the real lab, which needs root and
systemd-nspawn. Without them it skips with the reason, except in CI (CI=true), where a lab that cannot run is a
failure, not a silent skip."""

from __future__ import annotations

import os

import pytest

from lab import preflight


@pytest.hookimpl(tryfirst=True)  # before any fixture: a lab fixture would try to boot the lab
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("lab") is None:
        return
    found = preflight.problems(os.geteuid())
    if not found:
        return
    reason = "the lab cannot run here: " + "; ".join(found)
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI the lab the tests booted is taken down at the end (nothing left running); a developer's lab stays
    up for the next run unless they ask otherwise (`fab lab.down`)."""
    if os.environ.get("CI") != "true":
        return
    from lab.layout import Layout  # noqa: PLC0415
    from tests.support.lab.fab import fab  # noqa: PLC0415

    if Layout.default().record.exists():
        down = fab("lab.down")
        print(f"\nlab taken down after the tests (CI): exit {down.returncode}")
