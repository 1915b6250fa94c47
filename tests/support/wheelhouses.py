"""One wheelhouse for the whole run: the tests that release (a throwaway local environment, the lab) each have a
controller state of their own, and each would build the same wheelhouse (pip download of every dependency for the
targets' Python) into it. Instead the first of them to need it builds it here — once per run, whichever xdist worker
gets there first, the others waiting on a lock — and every test links it into its own cache
(tests/release/local_harness.seed_wheelhouses: read only; the build checks a wheelhouse is complete before using it).
A developer's own state/artifacts/wheelhouses is linked in first, so a warm checkout builds nothing."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from foundation.repository import REPO_ROOT


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every process of this run shares: pytest's base temporary folder, or under xdist its controller's
    (each worker's own is a `popen-gwN` folder inside it). pytest removes old runs' folders by itself."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def shared_wheelhouses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheelhouse cache (cache/wheelhouses/<hash>/) holding the working tree's dependencies, built once per run."""
    from release.build import artifact  # noqa: PLC0415 (only the tests that release pay for these)
    from tests.release.local_harness import seed_wheelhouses  # noqa: PLC0415

    cache = run_folder(tmp_path_factory) / "shared-artifacts"
    cache.mkdir(exist_ok=True)
    with (cache.parent / "shared-artifacts.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / ".built").exists():
            seed_wheelhouses(cache)
            artifact.build(REPO_ROOT, None, cache)  # the wheelhouse from the seed when it is complete, else pip
            (cache / ".built").touch()
    return cache / "wheelhouses"
