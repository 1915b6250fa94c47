"""The worker that runs the lab tests gets the run's critical path its CPU (tests/support/parallel.py): back to
normal priority, and in a session of its own (the kernel's autogroup scheduling weighs sessions, not processes);
the other workers stay niced in the run's session. A pytest run of its own, not a lab: the hook acts on the marker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from foundation.repository import REPO_ROOT

PROBE = """
import json, os, pytest

def _record(name):
    with open(os.environ["PROBE_OUT"], "a") as out:
        out.write(json.dumps({"test": name, "nice": os.getpriority(os.PRIO_PROCESS, 0),
                              "own_session": os.getsid(0) == os.getpid(), "sid": os.getsid(0)}) + "\\n")

def test_plain():
    _record("plain")

@pytest.mark.lab
def test_on_the_lab():
    _record("lab")
"""


def test_the_lab_test_runs_in_its_own_session_at_normal_priority(tmp_path):
    if os.geteuid() != 0:  # lowering nice back needs root; the lab needs it too
        pytest.skip("needs root (the lab's tests run as root)")
    (tmp_path / "test_probe.py").write_text(PROBE)
    out = tmp_path / "probe.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PROBE_OUT": str(out), "PYTEST_ADDOPTS": ""}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.parallel",
         "-n", "2", "--dist", "loadgroup", "--rootdir", str(tmp_path), "-W", "ignore::pytest.PytestUnknownMarkWarning",
         str(tmp_path / "test_probe.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    seen = {line["test"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert seen["lab"]["nice"] == 0 and seen["lab"]["own_session"], seen
    assert seen["plain"]["nice"] > 0 and not seen["plain"]["own_session"], seen
    assert seen["plain"]["sid"] == os.getsid(0) != seen["lab"]["sid"]  # the others stay in the run's session
