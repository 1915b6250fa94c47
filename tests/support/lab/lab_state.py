"""What the lab tests share: the lab in the state a test needs (booted and bare for the first converge, converged for
everything after it), whether the lab is converged (the roles have run, including what a release and monitoring need)
and an environment file for releasing to it from a test.

Every lab test runs on one xdist worker (tests/support/parallel.py), so they take turns on the one lab; each asks for
the state it needs here and gets it whether or not an earlier test left it so."""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import yaml

from foundation.repository import REPO_ROOT
from lab.layout import Layout
from tests.support.lab import ansible_run
from tests.support.lab.fab import as_root, fab
from tests.support.machine_bound import with_machine_bound_advisory

LAYOUT = Layout.default()


def probe(host: str, script: str) -> bool:
    """Whether `script` succeeds as root on a lab host (logged in as the login user, root through sudo)."""
    return subprocess.run(as_root(host, script), capture_output=True, timeout=30, check=False).returncode == 0


CONVERGED = {  # what each host has once the roles have run
    "lb": "test -e /etc/ssh/sshd_config.d/10-golive.conf",
    "partners": "test -e /etc/golive-partners-chain.env",
    "web1": "systemctl is-enabled --quiet golive-worker.service && "
    "systemctl is-active --quiet systemd-journal-upload.service",
    "monitoring": "systemctl is-active --quiet prometheus.service golive-alert-webhook.service",
}


def converged() -> bool:
    """The roles have run, including what a lab release needs (the chain's treasury key, the worker enabled) and
    monitoring (Prometheus and the webhook receiver on the monitoring host, journal uploads). Asked of the hosts
    at once: every lab test asks it."""
    with ThreadPoolExecutor(max_workers=len(CONVERGED)) as pool:
        return all(pool.map(lambda host: probe(host, CONVERGED[host]), CONVERGED))


def is_up() -> bool:
    """Booted, with the files `fab lab.up` writes (a lab an older checkout brought up may lack its stack outputs:
    `fab lab.up` on a running lab writes them)."""
    return LAYOUT.record.exists() and LAYOUT.ssh_config.exists() and LAYOUT.stack_outputs.exists()


def ensure_up() -> None:
    """The lab booted (`fab lab.up` when it is not; hosts already running are left alone)."""
    if not is_up():
        up = fab("lab.up")
        assert up.returncode == 0, up.output


def ensure_bare() -> None:
    """The lab booted with nothing converged onto it: a converged lab is taken down and booted afresh."""
    if is_up() and probe("lb", "test -e /etc/ssh/sshd_config.d/10-golive.conf"):
        down = fab("lab.down")
        assert down.returncode == 0, down.output
    up = fab("lab.up")
    assert up.returncode == 0, up.output


@contextmanager
def held_shared() -> Iterator[None]:
    """The lab lock held shared: lab.up/down (which take it exclusively) wait meanwhile."""
    with LAYOUT.lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def converged_lab() -> Iterator[None]:
    """The lab up (booted when it is not) and converged (when it is not), the lab lock held shared meanwhile."""
    ensure_up()
    with held_shared():
        if not converged():
            run = ansible_run.playbook()
            assert run.returncode == 0, run.tail()
        yield


def lab_env_file(path: Path, **overrides) -> Path:
    """release/environments/lab.yml with absolute paths to state/lab, the go-live Locust gate left out (a test
    brings its own load, or none), the checks that measure this machine advisory (tests/support/machine_bound.py:
    the lab's hosts share its kernel and CPUs with the suite's workers), and `overrides` on top."""
    raw = yaml.safe_load((REPO_ROOT / "release" / "environments" / "lab.yml").read_text())
    raw["ssh_config"] = str(LAYOUT.ssh_config)
    raw["checks"]["tls_ca_file"] = str(REPO_ROOT / raw["checks"]["tls_ca_file"])
    raw["checks"] = with_machine_bound_advisory(raw["checks"])
    raw["loadtest"] = {**raw["loadtest"], "required": False}
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw))
    return path
