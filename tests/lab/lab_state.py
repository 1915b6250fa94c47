"""What the lab tests that release to the lab share: whether the lab is converged (the roles have run, including
what a release and monitoring need) and an environment file for releasing to it from a test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from lab.layout import REPO, Layout

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
