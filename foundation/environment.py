"""One description per environment (release/environments/<name>.yml), loaded and checked.

staging and production take their hosts and entry point from the Pulumi stack's outputs file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

JOB_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")  # a Prometheus scrape job (monitoring.job)
REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_DIR = REPO_ROOT / "release" / "environments"

KNOWN_KEYS = {
    "name",
    "description",
    "transport",
    "ssh_config",
    "service_manager",
    "load_balancer",
    "root",
    "hosts",
    "instances",
    "entry_url",
    "batch_size",
    "keep_releases",
    "lock_ttl_seconds",
    "health_timeout_seconds",
    "gates",
    "inconclusive",
    "synthetic_traffic",
    "database",
    "backup_host",  # the release's backup taken on this host by golive-backup (release/backups/on_host.py)
    "secrets",
    "stack_outputs",
    "simulator_port",
    "chain_port",
    "worker",
    "loadtest",
    "monitoring",  # {prometheus_url: ..., job: golive_web}: the gates ask Prometheus (release/gates/sources.py)
    "checks",  # settings of the deployment checks (checks/config.py has every key and its default)
}
MONITORING_KEYS = {"prometheus_url", "job", "timeout_seconds", "logs_host"}
LOADTEST_KEYS = {"required", "users", "duration", "spawn_rate", "workers", "max_requests", "slo", "knobs"}
CHOICES = {
    "transport": ("local", "ssh"),
    "service_manager": ("supervisord", "systemd"),
    "load_balancer": ("none", "nginx", "alb"),
    "inconclusive": ("hold", "fail"),
    "database": ("embedded", "url", "tunnel"),
    "secrets": ("generated", "vault", "pulumi"),
}


class EnvironmentInvalid(Exception):
    """The environment description is missing, malformed or incomplete; the message says how to fix it."""


@dataclass(frozen=True)
class Instance:
    name: str
    port: int


@dataclass(frozen=True)
class Monitoring:
    """The environment's Prometheus: the gates query it (PromQL over the window) rather than scrape every
    instance, falling back to the scrape, said and recorded, when it cannot answer."""

    prometheus_url: str
    job: str = "golive_web"  # the scrape job of the service instances (their /metrics)
    timeout_seconds: float = 5.0
    logs_host: str | None = None  # where every host's journal is aggregated (default: prometheus_url's host)


@dataclass(frozen=True)
class Environment:
    name: str
    description: str
    transport: Literal["local", "ssh"]
    service_manager: Literal["supervisord", "systemd"]
    load_balancer: Literal["none", "nginx", "alb"]
    root: Path
    hosts: dict[str, tuple[str, ...]]
    instances: tuple[Instance, ...]
    entry_url: str
    batch_size: int
    keep_releases: int
    lock_ttl_seconds: int
    health_timeout_seconds: int
    gates: dict[str, Any]
    inconclusive: Literal["hold", "fail"]
    synthetic_traffic: dict[str, Any]
    database: Literal["embedded", "url", "tunnel"]  # tunnel: an SSH tunnel to the db host (release/tunnel.py)
    secrets: str
    ssh_config: Path | None = None
    simulator_port: int = 8100  # local: the Daraja simulator
    chain_port: int = 8545  # local: the chain simulator
    worker: bool = True  # web hosts run the recovery worker (python -m app.worker; one leader across them)
    loadtest: dict[str, Any] = field(default_factory=dict)  # the go-live load test (release/gates/loadtest.py)
    monitoring: Monitoring | None = None  # None: the gates scrape /metrics of every instance
    backup_host: str | None = None  # None: the controller takes the release's backup (pg_dump through database)
    extra: dict[str, Any] = field(default_factory=dict)

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
        """Where the controller reaches `host` over HTTP: 127.0.0.1 locally, the ssh_config's HostName (the lab's
        names resolve only through it), else the name itself."""
        if self.is_local:
            return "127.0.0.1"
        if self.ssh_config is not None:
            return _ssh_hostnames(str(self.ssh_config)).get(host, host)
        return host

    def instance_urls(self) -> list[str]:
        """Where each service instance answers directly (health checks and metrics bypass the balancer)."""
        return [f"http://{self.address(host)}:{i.port}" for host in self.web_hosts for i in self.instances]

    @property
    def tls_verify(self) -> bool | str:
        """What the controller verifies the entry point's certificate with: the environment's own CA when the
        checks name one (the lab's), the system's otherwise."""
        ca = (self.extra.get("checks") or {}).get("tls_ca_file")
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


def _stack_outputs(raw: dict[str, Any], name: str, repo: Path) -> dict[str, Any]:
    path = repo / raw["stack_outputs"]
    if not path.exists():
        raise EnvironmentInvalid(
            f"environment {name}: no stack outputs at {path}. Produce them with\n"
            f"  pulumi stack output --json --show-secrets=false --stack {name} > {path}\n"
            "(see infra/README.md)"
        )
    try:
        outputs = json.loads(path.read_text())
        # Hosts are objects in the stack outputs (infra/outputs.py); through SSM they are reached by instance id.
        by_ssm = (outputs.get("access") or {}).get("method") == "ssm"
        hosts = {
            role: [h if isinstance(h, str) else (h["instance_id"] if by_ssm else h["private_ip"]) for h in names]
            for role, names in outputs["hosts"].items()
        }
        entry = outputs.get("url") or outputs.get("entry_url") or f"https://{outputs['domain']}"
    except (ValueError, KeyError, TypeError) as exc:
        raise EnvironmentInvalid(f"environment {name}: {path} is not a stack-outputs file ({exc})") from None
    return {"hosts": hosts, "entry_url": entry, "outputs": outputs}


def parse_environment(raw: dict[str, Any], repo: Path = REPO_ROOT) -> Environment:
    name = str(_require(raw, "name", "?"))
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise EnvironmentInvalid(f"environment {name}: unknown keys {', '.join(sorted(unknown))}")
    for key, allowed in CHOICES.items():
        if key in raw and raw[key] not in allowed:
            raise EnvironmentInvalid(f"environment {name}: {key} must be one of {', '.join(allowed)}, not {raw[key]!r}")
    extra: dict[str, Any] = {"checks": dict(raw.get("checks") or {})}
    if raw.get("stack_outputs"):
        resolved = _stack_outputs(raw, name, repo)
        raw = {**raw, "hosts": resolved["hosts"], "entry_url": resolved["entry_url"]}
        extra["outputs"] = resolved["outputs"]
    hosts = {role: tuple(names) for role, names in _require(raw, "hosts", name).items()}
    if not hosts.get("web"):
        raise EnvironmentInvalid(f"environment {name}: no web hosts")
    instances = tuple(Instance(str(i["name"]), int(i["port"])) for i in _require(raw, "instances", name))
    keep = int(raw.get("keep_releases", 5))
    if keep < 2:
        raise EnvironmentInvalid(f"environment {name}: keep_releases must be at least 2 (current and previous)")
    transport = _require(raw, "transport", name)
    root = Path(_require(raw, "root", name))
    return Environment(
        name=name,
        description=str(raw.get("description", "")),
        transport=transport,
        service_manager=_require(raw, "service_manager", name),
        load_balancer=raw.get("load_balancer", "none"),
        root=(repo / root) if transport == "local" else root,
        hosts=hosts,
        instances=instances,
        entry_url=str(_require(raw, "entry_url", name)).rstrip("/"),
        batch_size=max(1, int(raw.get("batch_size", 1))),
        keep_releases=keep,
        lock_ttl_seconds=int(raw.get("lock_ttl_seconds", 120)),
        health_timeout_seconds=int(raw.get("health_timeout_seconds", 60)),
        gates=dict(raw.get("gates", {})),
        inconclusive=raw.get("inconclusive", "hold"),
        synthetic_traffic=dict(raw.get("synthetic_traffic", {"enabled": False})),
        database=raw.get("database", "url"),
        secrets=str(raw.get("secrets", "generated")),
        ssh_config=(repo / raw["ssh_config"]) if raw.get("ssh_config") else None,
        simulator_port=int(raw.get("simulator_port", 8100)),
        chain_port=int(raw.get("chain_port", 8545)),
        worker=bool(raw.get("worker", True)),
        loadtest=_loadtest(raw.get("loadtest"), name),
        monitoring=_monitoring(raw.get("monitoring"), name),
        backup_host=_backup_host(raw.get("backup_host"), hosts, transport, name),
        extra=extra,
    )


def _backup_host(raw: Any, hosts: dict[str, tuple[str, ...]], transport: str, name: str) -> str | None:
    if raw is None:
        return None
    db_hosts = hosts.get("db", ())
    if transport != "ssh" or raw not in db_hosts:
        raise EnvironmentInvalid(
            f"environment {name}: backup_host must be one of its db hosts reached over ssh "
            f"({', '.join(db_hosts) or 'none'}), not {raw!r}"
        )
    return str(raw)


def _loadtest(raw: Any, name: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - LOADTEST_KEYS:
        raise EnvironmentInvalid(f"environment {name}: loadtest takes a mapping of {', '.join(sorted(LOADTEST_KEYS))}")
    if not isinstance(raw.get("required", False), bool):
        raise EnvironmentInvalid(f"environment {name}: loadtest.required must be true or false")
    return dict(raw)


def _monitoring(raw: Any, name: str) -> Monitoring | None:
    if raw is None:
        return None
    where = f"environment {name}: monitoring"
    if not isinstance(raw, dict):
        raise EnvironmentInvalid(f"{where} takes a mapping: prometheus_url (required), job, timeout_seconds")
    unknown = sorted(set(raw) - MONITORING_KEYS)
    if unknown:
        raise EnvironmentInvalid(
            f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(MONITORING_KEYS))})"
        )
    url = raw.get("prometheus_url")
    if not isinstance(url, str) or not url.strip():
        raise EnvironmentInvalid(f"{where}.prometheus_url is missing (e.g. http://198.18.0.40:9090)")
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is not None and (parts.username or parts.password):
        raise EnvironmentInvalid(f"{where}.prometheus_url must not carry credentials (they would reach the audit log)")
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise EnvironmentInvalid(f"{where}.prometheus_url must be Prometheus' http(s):// base URL, not {url!r}")
    job = raw.get("job", Monitoring.job)
    if not isinstance(job, str) or not JOB_NAME.fullmatch(job):
        raise EnvironmentInvalid(f"{where}.job must be a scrape job name (letters, digits, _ . : -), not {job!r}")
    timeout = raw.get("timeout_seconds", Monitoring.timeout_seconds)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise EnvironmentInvalid(f"{where}.timeout_seconds must be a number of seconds in (0, 60], not {timeout!r}")
    logs_host = raw.get("logs_host")
    if logs_host is not None and (not isinstance(logs_host, str) or not logs_host.strip()):
        raise EnvironmentInvalid(f"{where}.logs_host must be a host name or address, not {logs_host!r}")
    return Monitoring(url.strip().rstrip("/"), job, float(timeout), logs_host)


def load_environment(name: str, repo: Path = REPO_ROOT) -> Environment:
    """By name (release/environments/<name>.yml) or by the path of a description file."""
    path = Path(name) if name.endswith((".yml", ".yaml")) else ENVIRONMENTS_DIR / f"{name}.yml"
    if not path.exists():
        raise EnvironmentInvalid(f"unknown environment {name!r}; known: {', '.join(known_environments())}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise EnvironmentInvalid(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise EnvironmentInvalid(f"{path}: expected a mapping")
    return parse_environment(raw, repo)
