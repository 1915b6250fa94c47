"""What the lab tests share: a converged lab to use, whether the lab is converged (the roles have run, including
what a release and monitoring need) and an environment file for releasing to it from a test."""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from lab.layout import REPO, Layout
from tests.support.lab import ansible_run
from tests.support.lab.fab import fab

LAYOUT = Layout.default()


def probe(host: str, script: str) -> bool:
    completed = subprocess.run(
        ["ssh", "-F", str(LAYOUT.ssh_config), host, script], capture_output=True, timeout=30, check=False
    )
    return completed.returncode == 0


def converged() -> bool:
    """The roles have run, including what a lab release needs (the chain's treasury key, the worker enabled) and
    monitoring (Prometheus and the webhook receiver on the monitoring host, journal uploads)."""
    return (
        probe("lb", "test -e /etc/ssh/sshd_config.d/10-golive.conf")
        and probe("partners", "test -e /etc/golive-partners-chain.env")
        and probe("web1", "systemctl is-enabled --quiet golive-worker.service")
        and probe("web1", "systemctl is-active --quiet systemd-journal-upload.service")
        and probe("monitoring", "systemctl is-active --quiet prometheus.service golive-alert-webhook.service")
    )


@contextmanager
def converged_lab() -> Iterator[None]:
    """The lab up (booted when it is not) and converged (when it is not), the lab lock held shared meanwhile
    (lab.up/down wait for it)."""
    if not (LAYOUT.record.exists() and LAYOUT.ssh_config.exists()):
        up = fab("lab.up")
        assert up.returncode == 0, up.output
    with LAYOUT.lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            if not converged():
                run = ansible_run.playbook()
                assert run.returncode == 0, run.tail()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lab_env_file(path: Path, **overrides) -> Path:
    """release/environments/lab.yml with absolute paths to state/lab, the go-live Locust gate left out (a test
    brings its own load, or none), and `overrides` on top."""
    raw = yaml.safe_load((REPO / "release" / "environments" / "lab.yml").read_text())
    raw["ssh_config"] = str(LAYOUT.ssh_config)
    raw["checks"]["tls_ca_file"] = str(REPO / raw["checks"]["tls_ca_file"])
    raw["loadtest"] = {**raw["loadtest"], "required": False}
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw))
    return path
