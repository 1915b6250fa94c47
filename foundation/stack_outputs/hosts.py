"""What the release takes from stack outputs (foundation/environment.py): each role's hosts, named as SSH reaches
them, and the entry URL. The lab checks its own outputs with this too before it writes them (lab/outputs.py)."""

from __future__ import annotations

from typing import Any

from foundation.stack_outputs.schema import StackOutputsInvalid


def by_instance_id(outputs: dict[str, Any], own_ssh_config: bool) -> bool:
    """Whether a host is named by its instance id: through SSM (the proxy command's %h), or where the environment
    names its own ssh_config, whose Host entries are the instance ids (the lab's: `Host web1`, the nspawn machine).
    Otherwise SSH goes to its private address."""
    return own_ssh_config or (outputs.get("access") or {}).get("method") == "ssm"


def resolve(outputs: dict[str, Any], source: str, *, own_ssh_config: bool) -> tuple[dict[str, list[str]], str]:
    """(hosts by role, entry URL); outputs without them are refused naming `source`."""
    key = "instance_id" if by_instance_id(outputs, own_ssh_config) else "private_ip"
    try:
        hosts = {
            str(role): [host if isinstance(host, str) else str(host[key]) for host in entries]
            for role, entries in outputs["hosts"].items()
        }
        entry = outputs.get("url") or outputs.get("entry_url") or f"https://{outputs['domain']}"
    except (KeyError, TypeError, AttributeError) as exc:
        raise StackOutputsInvalid(f"{source} is not a stack-outputs file ({type(exc).__name__}: {exc})") from None
    return hosts, str(entry)
