"""Every host: node_exporter on :9100 with its textfile collector, and the journal uploaded to the monitoring host
(roles node_exporter and journal_upload, in the baseline). On the database host, a good backup shows up as
golive_backup_last_success_timestamp_seconds among node_exporter's metrics."""

from __future__ import annotations

import time

import pytest

testinfra_hosts = ["ansible://all"]

TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def test_node_exporter_runs_and_listens_on_9100(host):
    service = host.service("prometheus-node-exporter")
    assert service.is_running and service.is_enabled
    assert host.socket("tcp://0.0.0.0:9100").is_listening or host.socket("tcp://:::9100").is_listening
    metrics = host.check_output("curl -sf http://127.0.0.1:9100/metrics")
    assert "node_exporter_build_info" in metrics
    assert "node_textfile_scrape_error 0" in metrics


def test_textfile_collector_folder(host):
    folder = host.file(TEXTFILE_DIR)
    assert folder.is_directory and (folder.user, folder.mode) == ("root", 0o755)
    args = host.file("/etc/default/prometheus-node-exporter").content_string
    assert f"--collector.textfile.directory={TEXTFILE_DIR}" in args


def test_the_journal_is_uploaded_to_the_monitoring_host(host, addresses):
    monitoring = addresses("monitoring")
    if not monitoring:
        pytest.skip("the inventory has no monitoring host: no upload")
    upload = host.service("systemd-journal-upload")
    assert upload.is_running and upload.is_enabled
    config = host.file("/etc/systemd/journal-upload.conf.d/golive.conf").content_string
    assert f"URL=http://{monitoring[0]}:19532" in config
    assert host.check_output("systemctl show systemd-journal-upload -p Restart --value") == "always"


def test_a_good_backup_is_published_for_prometheus(host, inventory):
    if host.backend.get_hostname() not in inventory.get_hosts("db"):
        pytest.skip("the backups run on the db host")
    started = time.time()
    host.check_output("systemctl start golive-backup.service")
    published = host.file(f"{TEXTFILE_DIR}/golive_backup.prom")
    assert published.exists and published.mode == 0o644
    assert not host.check_output(f"ls -A {TEXTFILE_DIR} | grep -v '[.]prom$' || true")  # no temporary left
    line = next(
        line
        for line in host.check_output("curl -sf http://127.0.0.1:9100/metrics").splitlines()
        if line.startswith("golive_backup_last_success_timestamp_seconds ")
    )
    taken = float(line.split()[1])
    assert started - 120 <= taken <= time.time() + 1, line
