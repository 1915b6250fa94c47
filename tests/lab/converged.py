"""A lab that is up and converged for tests that release to it or check it: booted when it is not up at all,
converged when the roles have not run (or not yet what a lab release needs), the lab lock held shared while
the test module uses it (lab.up/down wait for it)."""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from lab.layout import Layout
from tests.lab import ansible_run
from tests.lab.fab import fab

LAYOUT = Layout.default()


def probe(host: str, script: str) -> bool:
    completed = subprocess.run(
        ["ssh", "-F", str(LAYOUT.ssh_config), host, script], capture_output=True, timeout=30, check=False
    )
    return completed.returncode == 0


def is_converged() -> bool:
    """The roles have run, including what a lab release needs (the chain's treasury key, the worker enabled)."""
    return (
        probe("lb", "test -e /etc/ssh/sshd_config.d/10-golive.conf")
        and probe("partners", "test -e /etc/golive-partners-chain.env")
        and probe("web1", "systemctl is-enabled --quiet golive-worker.service")
    )


@contextmanager
def converged_lab() -> Iterator[None]:
    if not (LAYOUT.record.exists() and LAYOUT.ssh_config.exists()):
        up = fab("lab.up")
        assert up.returncode == 0, up.output
    with LAYOUT.lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            if not is_converged():
                run = ansible_run.playbook()
                assert run.returncode == 0, run.tail()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
