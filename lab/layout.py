"""Where the lab keeps things: its files for people and tools in the repository's state/lab, the cached base
image in /var/cache/golive-lab, the hosts' overlays under /var/lib/golive-lab."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from foundation.repository import REPO_ROOT
from foundation.state import StateLayout

LOCK = Path("/tmp/golive-lab.lock")  # noqa: S108  (fixed, well-known: users of the lab lock it shared)


@dataclass(frozen=True)
class Layout:
    state: Path  # ssh_config, inventory.ini, stack-outputs.json, keys, known_hosts, nspawn pid files and console logs
    cache: Path  # base images, one directory per cache key
    runtime: Path  # one overlay per host (upper, work, merged)
    lock: Path = LOCK

    @classmethod
    def default(cls) -> Layout:
        return cls(
            state=REPO_ROOT / "state" / "lab",
            cache=Path(os.environ.get("GOLIVE_LAB_CACHE", "/var/cache/golive-lab")),
            runtime=Path(os.environ.get("GOLIVE_LAB_RUNTIME", "/var/lib/golive-lab")),
        )

    @property
    def ssh_config(self) -> Path:
        return self.state / "ssh_config"

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.ini"

    @property
    def stack_outputs(self) -> Path:
        """The lab in the Pulumi stacks' schema (lab/outputs.py), where the release reads an environment's: the lab's
        state folder is the `lab` folder of the controller's state (foundation/state.py)."""
        return StateLayout(self.state.parent).stack_outputs(self.state.name)

    @property
    def known_hosts(self) -> Path:
        return self.state / "known_hosts"

    @property
    def key(self) -> Path:
        return self.state / "id_ed25519"

    @property
    def record(self) -> Path:
        """Which image the running lab boots from, and which checkout brought it up."""
        return self.runtime / "lab.json"

    def host_key(self, name: str) -> Path:
        return self.state / "host_keys" / f"{name}_ed25519"

    def pid_file(self, name: str) -> Path:
        return self.state / "hosts" / f"{name}.pid"

    def console_log(self, name: str) -> Path:
        return self.state / "hosts" / f"{name}.console.log"

    def host_dir(self, name: str) -> Path:
        return self.runtime / "hosts" / name

    def upper(self, name: str) -> Path:
        return self.host_dir(name) / "upper"

    def work(self, name: str) -> Path:
        return self.host_dir(name) / "work"

    def merged(self, name: str) -> Path:
        return self.host_dir(name) / "root"
