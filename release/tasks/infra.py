"""fab infra.outputs — the Pulumi stack's outputs handed to the release and to Ansible (infra/README.md)."""

from __future__ import annotations

from invoke import Collection, task

from foundation.environment import EnvironmentInvalid, pulumi_stack
from foundation.stack_outputs.handoff import hand_off
from foundation.stack_outputs.schema import StackOutputsInvalid
from foundation.state import StateLayout
from release.exit_codes import ExitCode, Refused
from release.tasks.context import exits


@task(help={"env": "target environment (its description's stack_outputs names the Pulumi stack)"})
@exits
def outputs(c, env=None) -> ExitCode:
    """Read the environment's Pulumi stack outputs (Automation API) into state/<env>/stack-outputs.json, and the
    Ansible inventory generated from them into state/<env>/inventory.ini; refuses an unknown schema_version."""
    if not env:
        raise Refused("--env is required (staging, production)")
    try:
        name, stack = pulumi_stack(env)
        done = hand_off(name, stack, StateLayout.default())
    except (EnvironmentInvalid, StackOutputsInvalid) as exc:
        raise Refused(str(exc)) from None
    print(f"stack outputs of Pulumi stack {stack!r}: {done.outputs}")
    print(f"Ansible inventory: {done.inventory}")
    for group, hosts in done.hosts.items():
        print(f"  {group}: {', '.join(hosts)}")
    print(f"next: .venv/bin/ansible-playbook -i {done.inventory} playbooks/site.yml, then fab release --env {name}")
    return ExitCode.OK


collection = Collection("infra", outputs)
