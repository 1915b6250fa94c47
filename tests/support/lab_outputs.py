"""The lab's environment for tests that need no lab: release/environments/lab.yml resolves its hosts, entry point,
database and Prometheus from the stack outputs `fab lab.up` writes (lab/outputs.py). `lab_state` is a controller state
folder holding those outputs, rendered for the lab's plan by the lab's own code: `load_environment("lab",
state=lab_state)` is the lab's environment as a release with the lab up sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.state import StateLayout
from lab import outputs


def lab_state_in(folder: Path) -> StateLayout:
    """A controller state in `folder` holding the lab's stack outputs."""
    state = StateLayout(folder)
    outputs.write(state.stack_outputs(outputs.ENVIRONMENT))
    return state


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> StateLayout:
    return lab_state_in(tmp_path_factory.mktemp("lab-state"))
