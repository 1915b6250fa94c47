"""Writing the lab's files for Fabric, Ansible, testinfra and the release (state/lab) and deleting them."""

from __future__ import annotations

import shutil

from lab import outputs, render
from lab.layout import Layout


def write(layout: Layout, public_keys: dict[str, str]) -> None:
    layout.state.mkdir(parents=True, exist_ok=True)
    outputs.write(layout.stack_outputs)  # first: outputs the release would refuse stop the lab before anything else
    layout.known_hosts.write_text(render.known_hosts(public_keys))
    layout.ssh_config.write_text(render.ssh_config(layout.key, layout.known_hosts))
    layout.inventory.write_text(render.inventory(layout.key, layout.ssh_config))


def remove(layout: Layout) -> None:
    """Everything a lab wrote for its users (the nspawn console logs stay for a post-mortem)."""
    for path in (layout.ssh_config, layout.inventory, layout.stack_outputs, layout.known_hosts, layout.key):
        path.unlink(missing_ok=True)
    layout.key.with_name(layout.key.name + ".pub").unlink(missing_ok=True)
    shutil.rmtree(layout.state / "host_keys", ignore_errors=True)
    for pid_file in (layout.state / "hosts").glob("*.pid"):
        pid_file.unlink()
