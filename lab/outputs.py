"""The lab as stack outputs: its plan (lab/plan.py) in the schema the Pulumi program exports (infra/outputs.py;
infra/README.md, "Stack outputs"), so that the release finds the lab's hosts, entry point, database and Prometheus
by the code that finds staging's and production's (foundation/environment.py). `fab lab.up` writes them beside the
lab's other files (lab/files.py). What the lab has no counterpart of (a region, zones, ARNs, an alarm topic, a backup
bucket) is null. Ports, the database and the domain are read from the variables the roles configure the lab's hosts
with, not repeated here."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from foundation.repository import REPO_ROOT
from foundation.stack_outputs import handoff, inventory
from foundation.stack_outputs import hosts as stack_hosts
from foundation.stack_outputs.schema import SCHEMA_VERSION, StackOutputsInvalid, checked
from lab.errors import LabError
from lab.plan import GROUPS, HOSTS, Host
from lab.render import LOGIN_USER, proxy_command

ENVIRONMENT = "lab"  # the environment they describe (release/environments/lab.yml: stack_outputs: lab)
MONITORING = "monitoring"  # the group whose host is the outputs' `monitoring`, not one of their `hosts`
HEALTH_CHECK_PATH = "/api/health"  # the service's health route (what the release waits for on each instance)
# The most the lab's nginx gets to finish a drained host's requests (`golive-upstream drain --wait`): the release's
# nginx driver reads it from here as the ALB's reads the target group's deregistration delay (release/balancers.py).
DRAIN_SECONDS = 15
# The variables the roles configure the hosts with, later files over earlier ones (Ansible's precedence).
VARIABLES = (
    Path("roles/postgresql/defaults/main.yml"),
    Path("playbooks/group_vars/all/main.yml"),
    Path("playbooks/vars/lab.yml"),
)


def render(hosts: tuple[Host, ...] = HOSTS, repo: Path = REPO_ROOT) -> dict[str, Any]:
    """The outputs for the plan `hosts` (pure: the same plan and variables give the same outputs)."""
    known = _variables(repo)
    lb, db, monitoring = (_only(hosts, group) for group in ("lb", "db", MONITORING))
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": ENVIRONMENT,
        "region": None,
        "hosts": {group: [_host(h) for h in hosts if group in h.groups] for group in GROUPS if group != MONITORING},
        # As on AWS with SSM: a session into each host (lab/session.py), the instance id for %h; the lab's ssh_config
        # gives the key and the pinned host keys.
        "access": {
            "method": "ssm",
            "user": LOGIN_USER,
            "deploy_user": _text(known, "golive_deploy_user"),
            "ssh_proxy_command": proxy_command(),
        },
        "service_port": _number(known, "golive_app_port"),
        "health_check_path": HEALTH_CHECK_PATH,
        "drain_seconds": DRAIN_SECONDS,
        "domain": _text(known, "tls_common_name"),
        "url": f"https://{lb.address}",  # the lab has no DNS: its certificate names the lb's address too
        "database": {
            "host": str(db.address),
            "port": _number(known, "golive_postgresql_port"),
            "name": _text(known, "postgresql_app_database"),
            "user": _text(known, "postgresql_app_user"),
            "engine_major": _number(known, "postgresql_version"),
            # pg_hba's type for the web hosts: hostssl refuses them without TLS, as RDS' rds.force_ssl does.
            "sslmode": "require" if _text(known, "postgresql_hba_connection_type") == "hostssl" else "prefer",
        },
        "load_balancer": {"dns_name": str(lb.address), "arn": None, "target_group_arn": None},
        "backup_bucket": None,
        "alarm_topic_arn": None,
        "monitoring": {
            **_host(monitoring),
            "prometheus_url": f"http://{monitoring.address}:{_number(known, 'golive_prometheus_port')}",
        },
    }


def validated(outputs: dict[str, Any], source: str) -> dict[str, Any]:
    """`outputs` when every reader of stack outputs takes them: the schema's version check, the release's hosts and
    entry point (as the lab names its hosts: through its own ssh_config), and the Ansible inventory `fab infra.outputs`
    makes of them. StackOutputsInvalid names what is wrong."""
    checked(outputs, source)
    stack_hosts.resolve(outputs, source, own_ssh_config=True)
    inventory.render(outputs, ENVIRONMENT, source)
    return outputs


def write(path: Path, hosts: tuple[Host, ...] = HOSTS) -> None:
    """The lab's stack-outputs file, checked first and written whole, as `fab infra.outputs` writes a stack's."""
    try:
        outputs = validated(render(hosts), str(path))
    except StackOutputsInvalid as exc:
        raise LabError(f"the lab's stack outputs would be refused by the release: {exc}") from None
    handoff.write(path, outputs)


def _host(host: Host) -> dict[str, Any]:
    # A host's instance id is its nspawn machine name (lab/nspawn.py: --machine), as its ssh_config names it.
    return {"name": host.name, "instance_id": host.name, "private_ip": str(host.address), "availability_zone": None}


def _only(hosts: tuple[Host, ...], group: str) -> Host:
    found = [h for h in hosts if group in h.groups]
    if len(found) != 1:
        raise LabError(f"the lab's plan needs exactly one {group} host, not {[h.name for h in found]}")
    return found[0]


@cache
def _variables(repo: Path) -> dict[str, Any]:
    known: dict[str, Any] = {}
    for relative in VARIABLES:
        for key, value in (yaml.safe_load((repo / relative).read_text()) or {}).items():
            known[key] = (value, relative)
    return known


def _text(known: dict[str, Any], key: str) -> str:
    if key not in known:
        raise LabError(f"no {key} in {', '.join(map(str, VARIABLES))}")
    value, where = known[key]
    if not isinstance(value, str | int) or isinstance(value, bool) or "{{" in str(value):
        raise LabError(f"{where}: {key} must be a plain value for the lab's stack outputs, not {value!r}")
    return str(value)


def _number(known: dict[str, Any], key: str) -> int:
    value = _text(known, key)
    if not value.isdigit():
        raise LabError(f"{known[key][1]}: {key} must be a number for the lab's stack outputs, not {value!r}")
    return int(value)
