"""Pulumi's mocks need the thread's event loop: a process that ran asyncio.run() before (a test, a script) has
none set any more, and the program must still run under the mocks."""

from __future__ import annotations

import subprocess
import sys

from foundation.repository import REPO_ROOT

SCRIPT = """
import asyncio
asyncio.run(asyncio.sleep(0))  # leaves the main thread without a current event loop
from infra.offline.runner import run_stack
print(len(run_stack("staging").resources))
"""


def test_the_program_runs_after_asyncio_run_cleared_the_loop():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) > 40
