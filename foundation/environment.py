"""One description per environment (release/environments/<name>.yml), loaded and checked.

lab, staging and production take their hosts, entry point and Prometheus from stack outputs in the Pulumi program's
schema (StateLayout.stack_outputs: state/<env>/stack-outputs.json), written by `fab infra.outputs --env <env>` from a
Pulumi stack or by `fab lab.up` from the lab's plan: the description's `stack_outputs_by` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_type_hints

import yaml

from foundation.metrics.gates import Thresholds
from foundation.repository import REPO_ROOT
from foundation.secrets.source import SecretSource, parse_source
from foundation.sections import LoadTest, Monitoring, SectionInvalid, SyntheticTraffic, convert, parse_section
from foundation.stack_outputs import hosts as stack_hosts
from foundation.stack_outputs.schema import StackOutputsInvalid
from foundation.stack_outputs.schema import read as read_stack_outputs
from foundation.state import StateLayout

ENVIRONMENTS_DIR = REPO_ROOT / "release" / "environments"
# Keys a description may not leave out (the rest have their defaults on Environment).
REQUIRED = ("name", "transport", "service_manager", "root", "hosts", "instances", "entry_url")
# What writes an environment's stack outputs (its `stack_outputs_by`), as the refusal of a missing file says it.
BY_PULUMI = "infra.outputs"
OUTPUTS_WRITERS = {  # (command, what it does)
    BY_PULUMI: ("fab infra.outputs --env {name}", "Pulumi stack {stack!r}, through Pulumi's Automation API"),
    "lab.up": ("fab lab.up", "the lab writes them from its plan as it comes up (lab/README.md)"),
}


class EnvironmentInvalid(Exception):
    """The environment description is missing, malformed or incomplete; the message says how to fix it."""


@dataclass(frozen=True)
class Instance:
    name: str
    port: int


@dataclass(frozen=True)
class Environment:
    """An environment as its description file says, every default here (typed sections: foundation/sections.py)."""

    name: str
    transport: Literal["local", "ssh"]
    service_manager: Literal["supervisord", "systemd"]
    root: Path  # the release layout on every host (for local: relative to the repository)
    hosts: dict[str, tuple[str, ...]]  # by role; "web" required (staging/production: from the stack outputs)
    instances: tuple[Instance, ...]  # service instances on each web host
    entry_url: str  # where clients reach the service (the balancer's, or the single local port)
    description: str = ""
    load_balancer: Literal["none", "nginx", "alb"] = "none"
    batch_size: int = 1  # web hosts switched together
    keep_releases: int = 5  # at least 2: current and previous are never pruned
    lock_ttl_seconds: int = 120  # a crashed release's lock expires after this
    health_timeout_seconds: int = 60  # an instance must answer healthy as the new release within this
    gates: Thresholds = field(default_factory=Thresholds)
    inconclusive: Literal["hold", "fail"] = "hold"  # too few samples in the gates' window
    synthetic_traffic: SyntheticTraffic = field(default_factory=SyntheticTraffic)
    database: Literal["embedded", "url", "tunnel"] = "url"  # tunnel: an SSH tunnel to the db host (release/tunnel.py)
    secrets: SecretSource = field(default_factory=SecretSource)  # where its secrets come from (foundation/secrets/)
    ssh_config: Path | None = None  # relative to the repository
    simulator_port: int = 8100  # local: the Daraja simulator
    chain_port: int = 8545  # local: the chain simulator
    worker: bool = True  # web hosts run the recovery worker (python -m app.worker; one leader across them)
    loadtest: LoadTest = field(default_factory=LoadTest)  # the go-live load test (release/gates/loadtest.py)
    monitoring: Monitoring | None = None  # None: the gates scrape /metrics of every instance
    backup_host: str | None = None  # a db host where the release's backup is taken and proven (golive-backup)
    checks: dict[str, Any] = field(default_factory=dict)  # the checks' settings (checks/config.py: every default)
    stack_outputs: str | None = None  # the stack whose outputs (StateLayout.stack_outputs) give the hosts
    stack_outputs_by: Literal["infra.outputs", "lab.up"] = "infra.outputs"  # the fab task that writes them
    outputs: dict[str, Any] = field(default_factory=dict)  # what those outputs say (not a key of the description)

    @property
    def web_hosts(self) -> tuple[str, ...]:
        return self.hosts.get("web", ())

    @property
    def is_local(self) -> bool:
        return self.transport == "local"

    def batches(self) -> list[tuple[str, ...]]:
        hosts = self.web_hosts
        return [hosts[i : i + self.batch_size] for i in range(0, len(hosts), self.batch_size)]

    def address(self, host: str) -> str:
        """`host`'s address as the ssh_config names it (its HostName: the lab's names resolve only through it), else
        the name itself: what its certificate names. Never how the controller reaches an instance
        (foundation/instance_endpoints.py)."""
        if self.ssh_config is not None:
            return _ssh_hostnames(str(self.ssh_config)).get(host, host)
        return host

    @property
    def tls_verify(self) -> bool | str:
        """What the controller verifies the entry point's certificate with: the environment's own CA when the
        checks name one (the lab's), the system's otherwise."""
        ca = self.checks.get("tls_ca_file")
        if not ca:
            return True
        path = Path(ca)
        return str(path if path.is_absolute() else REPO_ROOT / path)


def _ssh_hostnames(path: str) -> dict[str, str]:
    """Host -> HostName from an ssh_config (the simple form `fab lab.up` writes: Host NAME / HostName ADDRESS)."""
    names: dict[str, str] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return names
    hosts: list[str] = []
    for line in lines:
        words = line.split()
        if len(words) < 2 or words[0].startswith("#"):
            continue
        key = words[0].lower()
        if key == "host":
            hosts = [w for w in words[1:] if not any(c in w for c in "*?!")]
        elif key == "hostname":
            for host in hosts:
                names.setdefault(host, words[1])
    return names


def known_environments() -> list[str]:
    return sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.yml"))


def _require(raw: dict[str, Any], key: str, name: str) -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise EnvironmentInvalid(f"environment {name}: '{key}' is missing")
    return raw[key]


def stack_outputs_path(name: str, repo: Path = REPO_ROOT, state: StateLayout | None = None) -> Path:
    """Where the controller keeps environment `name`'s stack outputs (`fab infra.outputs`, `fab lab.up` write them)."""
    return (state or StateLayout.default(repo)).stack_outputs(name)


def _stack_outputs(
    raw: dict[str, Any], name: str, repo: Path, state: StateLayout | None
) -> tuple[dict[str, list[str]], str, dict[str, Any]]:
    stack = raw["stack_outputs"]
    path = stack_outputs_path(name, repo, state)
    if not isinstance(stack, str) or stack.endswith(".json"):
        raise EnvironmentInvalid(
            f"environment {name}: stack_outputs names the Pulumi stack (e.g. {name}), not {stack!r}; "
            f"its outputs are kept in {path}"
        )
    if not path.exists():
        command, why = OUTPUTS_WRITERS[_writer(raw, name)]
        raise EnvironmentInvalid(
            f"environment {name}: no stack outputs at {path}. Write them (and the Ansible inventory beside them) with\n"
            f"  {command.format(name=name)}        # {why.format(stack=stack)}\n"
            "(see infra/README.md, 'Stack outputs')"
        )
    try:
        outputs = read_stack_outputs(path)
        hosts, entry = stack_hosts.resolve(outputs, str(path), own_ssh_config=bool(raw.get("ssh_config")))
    except StackOutputsInvalid as exc:
        raise EnvironmentInvalid(f"environment {name}: {exc}") from None
    return hosts, entry, outputs


def _writer(raw: dict[str, Any], name: str) -> str:
    by = raw.get("stack_outputs_by", Environment.stack_outputs_by)
    try:
        return convert(by, get_type_hints(Environment)["stack_outputs_by"], f"environment {name}: stack_outputs_by")
    except SectionInvalid as exc:
        raise EnvironmentInvalid(str(exc)) from None


def _monitoring_from_outputs(raw: dict[str, Any], outputs: dict[str, Any]) -> Any:
    """The description's `monitoring`, its prometheus_url filled from the outputs' monitoring host when it sets none,
    and its logs_host: that host as SSH reaches every host (its instance id, or its address: stack_hosts)."""
    host = outputs.get("monitoring") or {}
    url = host.get("prometheus_url")
    described = raw.get("monitoring")
    if not url or (isinstance(described, dict) and described.get("prometheus_url")):
        return described
    filled = {**(described if isinstance(described, dict) else {}), "prometheus_url": url}
    key = "instance_id" if stack_hosts.by_instance_id(outputs, bool(raw.get("ssh_config"))) else "private_ip"
    if host.get(key) and not filled.get("logs_host"):
        filled["logs_host"] = host[key]
    return filled


DESCRIBED = tuple(spec.name for spec in fields(Environment) if spec.name != "outputs")
SECTIONS = {"synthetic_traffic": SyntheticTraffic, "loadtest": LoadTest, "monitoring": Monitoring}


def parse_environment(raw: dict[str, Any], repo: Path = REPO_ROOT, state: StateLayout | None = None) -> Environment:
    """`state`: where the stack outputs are kept (StateLayout.default(repo) when None)."""
    name = str(_require(raw, "name", "?"))
    where = f"environment {name}"
    unknown = sorted(set(raw) - set(DESCRIBED))
    if unknown:
        raise EnvironmentInvalid(f"{where}: unknown keys {', '.join(map(str, unknown))}")
    raw = dict(raw)
    if raw.get("stack_outputs"):
        raw["hosts"], raw["entry_url"], raw["outputs"] = _stack_outputs(raw, name, repo, state)
        raw["monitoring"] = _monitoring_from_outputs(raw, raw["outputs"])
    for key in REQUIRED:
        _require(raw, key, name)
    hints = get_type_hints(Environment)
    values: dict[str, Any] = {}
    try:
        for key, value in raw.items():
            if key in SECTIONS:
                values[key] = None if value is None else parse_section(SECTIONS[key], value, f"{where}: {key}")
            elif key == "gates":
                values[key] = _gates(value, f"{where}: gates")
            elif key == "secrets":
                values[key] = parse_source(value, f"{where}: secrets")
            elif key in ("hosts", "instances", "root", "ssh_config", "checks", "outputs"):
                values[key] = value
            else:
                values[key] = convert(value, hints[key], f"{where}: {key}")
    except SectionInvalid as exc:
        raise EnvironmentInvalid(str(exc)) from None
    hosts = _hosts(values["hosts"], where)
    transport = values["transport"]
    root = Path(values["root"])
    return Environment(
        **{
            **values,
            "hosts": hosts,
            "instances": _instances(values["instances"], where),
            "root": (repo / root) if transport == "local" else root,
            "ssh_config": (repo / values["ssh_config"]) if values.get("ssh_config") else None,
            "checks": _mapping(values.get("checks"), f"{where}: checks"),
            "keep_releases": _at_least(
                values.get("keep_releases", Environment.keep_releases),
                2,
                where,
                "keep_releases",
                "(current and previous)",
            ),
            "batch_size": _at_least(values.get("batch_size", Environment.batch_size), 1, where, "batch_size", ""),
            "backup_host": _backup_host(values.get("backup_host"), hosts, transport, where),
        }
    )


def _gates(raw: Any, where: str) -> Thresholds:
    try:
        return Thresholds.from_mapping(_mapping(raw, where))
    except ValueError as exc:
        raise SectionInvalid(f"{where}: {exc}") from None


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise EnvironmentInvalid(f"{where} takes a mapping, not {raw!r}")
    return dict(raw)


def _hosts(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or not all(isinstance(names, list) for names in raw.values()):
        raise EnvironmentInvalid(f"{where}: hosts takes a mapping of role -> [host, …]")
    hosts = {str(role): tuple(str(name) for name in names) for role, names in raw.items()}
    if not hosts.get("web"):
        raise EnvironmentInvalid(f"{where}: no web hosts")
    return hosts


def _instances(raw: Any, where: str) -> tuple[Instance, ...]:
    try:
        return tuple(Instance(str(item["name"]), int(item["port"])) for item in raw)
    except (TypeError, KeyError, ValueError):
        raise EnvironmentInvalid(f"{where}: instances takes a list of {{name, port}}") from None


def _at_least(value: int, minimum: int, where: str, key: str, why: str) -> int:
    if value < minimum:
        raise EnvironmentInvalid(f"{where}: {key} must be at least {minimum} {why}".rstrip())
    return value


def _backup_host(raw: str | None, hosts: dict[str, tuple[str, ...]], transport: str, where: str) -> str | None:
    if raw is None:
        return None
    db_hosts = hosts.get("db", ())
    if transport != "ssh" or raw not in db_hosts:
        raise EnvironmentInvalid(
            f"{where}: backup_host must be one of its db hosts reached over ssh "
            f"({', '.join(db_hosts) or 'none'}), not {raw!r}"
        )
    return raw


def load_environment(name: str, repo: Path = REPO_ROOT, state: StateLayout | None = None) -> Environment:
    """By name (release/environments/<name>.yml) or by the path of a description file."""
    return parse_environment(_description(name), repo, state)


def pulumi_stack(name: str) -> tuple[str, str]:
    """(environment name, its Pulumi stack) from the description alone: its outputs need not exist yet."""
    raw = _description(name)
    env = str(_require(raw, "name", "?"))
    stack = raw.get("stack_outputs")
    if not stack:
        raise EnvironmentInvalid(f"environment {env}: not on Pulumi (its description names no stack in stack_outputs)")
    writer = _writer(raw, env)
    if writer != BY_PULUMI:
        raise EnvironmentInvalid(
            f"environment {env}: not on Pulumi: its stack outputs are written by `{OUTPUTS_WRITERS[writer][0]}`"
        )
    return env, str(stack)


def _description(name: str) -> dict[str, Any]:
    path = Path(name) if name.endswith((".yml", ".yaml")) else ENVIRONMENTS_DIR / f"{name}.yml"
    if not path.exists():
        raise EnvironmentInvalid(f"unknown environment {name!r}; known: {', '.join(known_environments())}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise EnvironmentInvalid(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise EnvironmentInvalid(f"{path}: expected a mapping")
    return raw
