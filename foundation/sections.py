"""Typed sections of an environment description (release/environments/<name>.yml), each with its defaults in one
place: its dataclass. `parse_section` turns a YAML mapping into one, refusing unknown keys and wrong types with the
environment and the key named. The gates' section is foundation.metrics.gates.Thresholds; the checks' settings
and their defaults are checks/config.py's."""

from __future__ import annotations

import re
import types
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

JOB_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")  # a Prometheus scrape job (monitoring.job)


class SectionInvalid(ValueError):
    """A section's key is unknown or of the wrong type; the message names the key (the caller adds the file)."""


@dataclass(frozen=True)
class SyntheticTraffic:
    """Simulator payments through the entry point during the gates' window, so the gates have samples where
    there is no real traffic (environments whose Daraja is the simulator)."""

    enabled: bool = False
    rate_per_second: float = 4.0


@dataclass(frozen=True)
class LoadTest:
    """The go-live load test (release/gates/loadtest.py, `fab loadtest`), held to loadtests/slo/<env>.yml."""

    required: bool = False  # a release runs it as a gate after the gates
    users: int = 10
    duration: float = 20.0  # seconds of load
    spawn_rate: float | None = None  # users started per second (None: half the users)
    workers: int = 0  # 0: one Locust process; K: a master and K workers
    max_requests: int = 1_000_000  # the run stops itself after this many
    slo: str | None = None  # a thresholds file (relative to the repository) instead of loadtests/slo/<env>.yml
    knobs: dict[str, str] = field(default_factory=dict)  # GOLIVE_LOADTEST_* settings of the scenarios

    def validate(self) -> None:
        for name in ("users", "duration", "max_requests", "spawn_rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SectionInvalid(f"{name} must be positive, not {value!r}")
        if self.workers < 0:
            raise SectionInvalid(f"workers must be 0 or more, not {self.workers!r}")


@dataclass(frozen=True)
class Monitoring:
    """The environment's Prometheus: the gates query it (PromQL over the window) rather than scrape every
    instance, falling back to the scrape, said and recorded, when it cannot answer."""

    prometheus_url: str
    job: str = "golive_web"  # the scrape job of the service instances (their /metrics)
    timeout_seconds: float = 5.0
    logs_host: str | None = None  # where every host's journal is aggregated (default: prometheus_url's host)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prometheus_url", self.prometheus_url.strip().rstrip("/"))

    def validate(self) -> None:
        url = self.prometheus_url
        if not url:
            raise SectionInvalid("prometheus_url is missing (e.g. http://198.18.0.40:9090)")
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises on a port that is not a number
        except ValueError:
            parts = None
        if parts is not None and (parts.username or parts.password):
            raise SectionInvalid("prometheus_url must not carry credentials (they would reach the audit log)")
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise SectionInvalid(f"prometheus_url must be Prometheus' http(s):// base URL, not {url!r}")
        if not JOB_NAME.fullmatch(self.job):
            raise SectionInvalid(f"job must be a scrape job name (letters, digits, _ . : -), not {self.job!r}")
        if not 0 < self.timeout_seconds <= 60:
            raise SectionInvalid(
                f"timeout_seconds must be a number of seconds in (0, 60], not {self.timeout_seconds!r}"
            )
        if self.logs_host is not None and not self.logs_host.strip():
            raise SectionInvalid(f"logs_host must be a host name or address, not {self.logs_host!r}")


Section = TypeVar("Section")


def parse_section(cls: type[Section], raw: Any, where: str) -> Section:
    """`raw` (a YAML mapping; None for "not given") as `cls`: unknown keys and wrong types refused, naming
    `where.key`; then the section's own `validate()`, when it has one."""
    if raw is None:
        raw = {}
    hints = get_type_hints(cls)
    known = sorted(f.name for f in fields(cls))  # type: ignore[arg-type]
    if not isinstance(raw, dict):
        raise SectionInvalid(f"{where} takes a mapping of {', '.join(known)}")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SectionInvalid(f"{where}: unknown keys {', '.join(map(str, unknown))} (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if spec.name in raw:
            values[spec.name] = convert(raw[spec.name], hints[spec.name], f"{where}.{spec.name}")
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise SectionInvalid(f"{where}.{spec.name} is missing")
    section = cls(**values)
    validate = getattr(section, "validate", None)
    if validate is not None:
        try:
            validate()
        except SectionInvalid as exc:
            raise SectionInvalid(f"{where}.{exc}") from None
    return section


def convert(value: Any, kind: Any, where: str) -> Any:
    """One value as its annotation says: bool, int, float, str, a Literal's choices, `X | None`, dict[str, str]."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [option for option in get_args(kind) if option is not type(None)]
        return None if value is None else convert(value, options[0], where)
    if origin is Literal:
        if value not in get_args(kind):
            raise SectionInvalid(f"{where} must be one of {', '.join(map(str, get_args(kind)))}, not {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise SectionInvalid(f"{where} takes a mapping, not {value!r}")
        return {str(key): str(item) for key, item in value.items()}
    if kind is bool:
        if not isinstance(value, bool):
            raise SectionInvalid(f"{where} must be true or false, not {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SectionInvalid(f"{where} must be a number, not {value!r}")
        if kind is int and value != int(value):
            raise SectionInvalid(f"{where} must be a whole number, not {value!r}")
        return kind(value)
    if kind is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise SectionInvalid(f"{where} must be text, not {value!r}")
        return str(value)
    return value
