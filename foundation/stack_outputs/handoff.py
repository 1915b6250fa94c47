"""`fab infra.outputs`: a Pulumi stack's outputs into the controller's state folder, with the Ansible inventory made
from them beside them. Both are checked before either is written, and each is written whole (files.write_atomically)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.files import write_atomically
from foundation.repository import REPO_ROOT
from foundation.stack_outputs import inventory, pulumi_stack
from foundation.state import StateLayout

# Neither file holds a secret (a secret output is refused): readable like the rest of the repository's files.
MODE = 0o644


@dataclass(frozen=True)
class HandedOff:
    outputs: Path
    inventory: Path
    hosts: dict[str, list[str]]  # by inventory group, the hosts' names


def hand_off(
    env: str, stack: str, state: StateLayout, select: pulumi_stack.Select | None = None, work_dir: Path = REPO_ROOT
) -> HandedOff:
    """Fetches `stack`'s outputs (through `select`, the Automation API's by default) and writes environment `env`'s
    stack-outputs.json and inventory.ini; a refusal (StackOutputsInvalid) leaves the files already there untouched."""
    outputs = pulumi_stack.fetch(stack, work_dir, select)
    path = state.stack_outputs(env)
    text = inventory.render(outputs, env, str(path))
    write(path, outputs)
    write_atomically(state.inventory(env), text, MODE)
    return HandedOff(path, state.inventory(env), inventory.groups(outputs, str(path)))


def write(path: Path, outputs: dict[str, Any]) -> None:
    """A stack-outputs file, whole: keys sorted, as `fab infra.outputs` and `fab lab.up` write it."""
    write_atomically(path, json.dumps(outputs, indent=2, sort_keys=True) + "\n", MODE)
