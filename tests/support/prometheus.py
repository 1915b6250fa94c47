"""A real Prometheus (Debian's build, tests/support/debian_tools.py) on a loopback port, scraping the given
targets every second into a temporary TSDB. Stopped by its PID."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import yaml

from tests.support.debian_tools import tool_or_skip
from tests.support.processes import free_port, stop_process, wait_until


class RunningPrometheus:
    def __init__(self, folder: Path, targets: list[str], *, job: str = "golive_web"):
        binary = tool_or_skip("prometheus")
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "prometheus.log"
        command = [
            str(binary),
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
        wait_until(self._scraping, f"Prometheus on {self.url} scraping {targets}", seconds=30, interval=0.2)

    def _scraping(self) -> bool:
        """Up, and every target scraped successfully at least once."""
        assert self.process.poll() is None, f"Prometheus exited:\n{self.log.read_text()[-3000:]}"
        try:
            answer = httpx.get(f"{self.url}/api/v1/targets", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        targets = answer.get("data", {}).get("activeTargets", [])
        return bool(targets) and all(target.get("health") == "up" for target in targets)

    def stop(self) -> None:
        stop_process(self.process)
