"""A real Prometheus (and Alertmanager) on loopback for tests: Debian's binaries (tests/support/debian_tools.py),
a configuration written for the test, a free port, storage in the test's folder, stopped by PID."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.debian_tools import tool_or_skip
from tests.support.processes import answers, free_port, stop_process, wait_until

DEFAULT_TEMPLATE = "/usr/share/prometheus/alertmanager/default.tmpl"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def job(name: str, targets: Iterable[str], **extra: Any) -> dict[str, Any]:
    """A static scrape job: targets as host:port."""
    return {"job_name": name, "static_configs": [{"targets": list(targets)}], **extra}


def start_prometheus(
    folder: Path,
    jobs: Sequence[dict[str, Any]],
    *,
    rule_files: Sequence[Path] = (),
    alertmanagers: Sequence[str] = (),
    interval: str = "1s",
) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": list(jobs),
        "rule_files": [str(path) for path in rule_files],
    }
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    arguments = [
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return _start(tool_or_skip("prometheus"), arguments, f"http://127.0.0.1:{port}", folder / "prometheus.log")


def start_alertmanager(folder: Path) -> Server:
    """An Alertmanager routing everything to a receiver that sends nowhere (the tests read its API)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    arguments = [
        f"--config.file={folder / 'alertmanager.yml'}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # a single instance: no gossip port
    ]
    binary = tool_or_skip("alertmanager")
    return _start(binary, arguments, f"http://127.0.0.1:{port}", folder / "alertmanager.log", _templates_for(binary))


def _templates_for(binary: Path) -> list[str]:
    """Debian's Alertmanager loads its default template from /usr/share/prometheus/alertmanager, a path no flag
    moves: when that is not installed here, the unpacked package's /usr/share is laid over the machine's in a
    private mount namespace (an overlay, nothing changed outside it) and the binary started inside."""
    if Path(DEFAULT_TEMPLATE).exists():
        return []
    share = binary.parents[1] / "share"
    if not (share / "prometheus" / "alertmanager" / "default.tmpl").is_file() or not shutil.which("unshare"):
        raise AssertionError(f"{DEFAULT_TEMPLATE} is missing and no unpacked copy can stand in for it")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    overlay = 'mount -t overlay overlay -o lowerdir="$1":/usr/share /usr/share && shift && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", *user, "--", "sh", "-c", overlay, "sh", str(share)]


def _start(binary: Path, arguments: list[str], url: str, log: Path, wrapper: Sequence[str] = ()) -> Server:
    with log.open("wb") as output:
        process = subprocess.Popen([*wrapper, str(binary), *arguments], stdout=output, stderr=subprocess.STDOUT)
    server = Server(url, process, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{binary.name} exited early ({process.returncode}): {log.read_text()[-2000:]}")
        return answers(f"{url}/-/ready")

    try:
        wait_until(ready, f"{binary.name} on {url}", seconds=60, interval=0.2)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for(prometheus: str, path: str, ready: Callable[[Any], bool], what: str, seconds: float) -> None:
    """Until `ready` holds for the `data` of Prometheus' API answer at `path`."""

    def holds() -> bool:
        return ready(httpx.get(f"{prometheus}{path}", timeout=5).json()["data"])

    wait_until(holds, f"{what} ({prometheus})", seconds=seconds, interval=0.2)


def wait_for_scrapes(prometheus: str, targets: int, seconds: float = 30) -> None:
    """Until Prometheus has scraped `targets` targets at least once (up or down)."""

    def scraped(data: Any) -> bool:
        active = data["activeTargets"]
        return len(active) >= targets and all(target["health"] != "unknown" for target in active)

    _wait_for(prometheus, "/api/v1/targets", scraped, f"{targets} targets scraped", seconds)


def wait_for_alertmanagers(prometheus: str, count: int, seconds: float = 30) -> None:
    """Until Prometheus' notifier has discovered `count` Alertmanagers (its discovery syncs every few seconds)."""
    discovered = lambda data: len(data["activeAlertmanagers"]) >= count  # noqa: E731
    _wait_for(prometheus, "/api/v1/alertmanagers", discovered, f"{count} Alertmanager(s) discovered", seconds)


def wait_for_targets_up(prometheus: str, seconds: float = 30) -> None:
    """Until every target Prometheus scrapes has answered at least once."""

    def up(data: Any) -> bool:
        active = data["activeTargets"]
        return bool(active) and all(target["health"] == "up" for target in active)

    _wait_for(prometheus, "/api/v1/targets", up, "every target up", seconds)


def wait_for_scrapes_after(prometheus: str, moment: float, seconds: float = 30) -> None:
    """Until every target has been scraped since `moment` (time.time()): what it counted before then is in
    Prometheus, every series it had then included."""

    def since(data: Any) -> bool:
        active = data["activeTargets"]
        return bool(active) and all(_epoch(target["lastScrape"]) > moment for target in active)

    _wait_for(prometheus, "/api/v1/targets", since, "every target scraped again", seconds)


def _epoch(rfc3339: str) -> float:
    """Prometheus' timestamps (nanoseconds; Z or an offset) as seconds since the epoch."""
    match = re.fullmatch(r"([^.Z+]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    assert match, f"not an RFC 3339 timestamp: {rfc3339!r}"
    whole, fraction, offset = match.groups()
    stamp = datetime.fromisoformat(whole + ("+00:00" if offset == "Z" else offset)).timestamp()
    return stamp + float(f"0.{fraction or 0}")


def scraping(folder: Path, targets: list[str], job_name: str = "golive_web") -> Server:
    """Prometheus scraping `targets` (host:port) every second, returned once each has answered."""
    server = start_prometheus(folder, [job(job_name, targets, scrape_timeout="1s")])
    try:
        wait_for_targets_up(server.url)
    except BaseException:
        server.stop()
        raise
    return server
