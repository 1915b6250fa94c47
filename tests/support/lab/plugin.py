"""The `lab` marker, wherever a test lives: a test marked `lab` boots the real lab, which needs root and
systemd-nspawn. Without them it skips with the reason, except in CI (CI=true), where a lab that cannot run is a
failure, not a silent skip. And what every lab test may ask for: `lab_releases` (tests/support/lab/releases.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import preflight

# Whether this process ran a lab test (its preflight passed): only such a process takes the lab down at its end. Under
# xdist that is the one worker the lab group went to; the others (and a pytest run inside a test) leave it alone.
_USED_THE_LAB = False


@pytest.hookimpl(tryfirst=True)  # before any fixture: a lab fixture would try to boot the lab
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("lab") is None:
        return
    found = preflight.problems(os.geteuid())
    if not found:
        global _USED_THE_LAB  # noqa: PLW0603 (one flag per process)
        _USED_THE_LAB = True
        return
    reason = "the lab cannot run here: " + "; ".join(found)
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_releases(tmp_path_factory: pytest.TempPathFactory, shared_wheelhouses: Path):
    """Versions to release onto the lab, and the state they are released from (one per session)."""
    from tests.support.lab.releases import LabReleases  # noqa: PLC0415 (only the lab tests pay for the copy)

    return LabReleases.create(Path(tmp_path_factory.mktemp("lab-releases")), shared_wheelhouses)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI the lab the tests booted is taken down at the end (nothing left running) by the process that used it;
    a developer's lab stays up for the next run unless they ask otherwise (`fab lab.down`)."""
    if os.environ.get("CI") != "true" or not _USED_THE_LAB:
        return
    from lab.layout import Layout  # noqa: PLC0415
    from tests.support.lab.fab import fab  # noqa: PLC0415

    if Layout.default().record.exists():
        down = fab("lab.down")
        print(f"\nlab taken down after the tests (CI): exit {down.returncode}")
