"""SLO thresholds of a load test and their evaluation: pure code, no Locust, no I/O but reading a file.

Thresholds come from loadtests/slo/default.yml, overlaid by loadtests/slo/<env>.yml when it exists, overlaid
by an explicit file (`fab loadtest --slo FILE`). Every key is optional in the overlays; unknown keys are refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

SLO_DIR = Path(__file__).resolve().parent / "slo"


class SloInvalid(Exception):
    """A thresholds file or value is malformed; the message names it."""


@dataclass(frozen=True)
class Thresholds:
    p95_ms: float = 2000.0  # the checklist's "API response time < 2 seconds"
    p99_ms: float = 4000.0
    max_failure_ratio: float = 0.01  # "Error rate < 1 %"
    min_requests: int = 100  # fewer requests than this and the run proves nothing: it fails
    min_payment_success: float = 0.95  # "Payment success rate > 95 %" (payments that settled as paid)
    min_payments: int = 0  # payments started by buyers; 0 = the payment checks are skipped when there are none

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Figures:
    """What a run measured (HTTP requests only; payments are counted apart)."""

    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    duration_s: float
    payments: int = 0  # payments whose outcome the buyers waited for
    paid: int = 0

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def payment_success(self) -> float | None:
        return self.paid / self.payments if self.payments else None

    def as_dict(self) -> dict[str, Any]:
        data = {key: round(value, 2) if isinstance(value, float) else value for key, value in asdict(self).items()}
        data["failure_ratio"] = round(self.failure_ratio, 5)
        success = self.payment_success
        data["payment_success"] = None if success is None else round(success, 5)
        return data


@dataclass(frozen=True)
class Check:
    name: str
    limit: str  # e.g. "<= 2000 ms"
    value: str  # what was measured, formatted
    passed: bool


def evaluate(thresholds: Thresholds, figures: Figures) -> list[Check]:
    """One check per threshold. A latency or ratio measured over too few requests is not a pass."""
    enough = figures.requests >= thresholds.min_requests
    checks = [
        Check("requests", f">= {thresholds.min_requests}", str(figures.requests), enough),
        Check(
            "p95",
            f"<= {thresholds.p95_ms:g} ms",
            f"{figures.p95_ms:g} ms",
            enough and figures.p95_ms <= thresholds.p95_ms,
        ),
        Check(
            "p99",
            f"<= {thresholds.p99_ms:g} ms",
            f"{figures.p99_ms:g} ms",
            enough and figures.p99_ms <= thresholds.p99_ms,
        ),
        Check(
            "failure ratio",
            f"<= {thresholds.max_failure_ratio:.2%}",
            f"{figures.failure_ratio:.2%} ({figures.failures}/{figures.requests})",
            enough and figures.failure_ratio <= thresholds.max_failure_ratio,
        ),
    ]
    if thresholds.min_payments > 0 or figures.payments > 0:
        checks.append(
            Check(
                "payments",
                f">= {thresholds.min_payments}",
                str(figures.payments),
                figures.payments >= thresholds.min_payments,
            )
        )
        success = figures.payment_success
        checks.append(
            Check(
                "payment success",
                f">= {thresholds.min_payment_success:.0%}",
                "n/a" if success is None else f"{success:.1%} ({figures.paid}/{figures.payments})",
                success is not None and success >= thresholds.min_payment_success,
            )
        )
    return checks


def passed(checks: list[Check]) -> bool:
    return bool(checks) and all(check.passed for check in checks)


def _overlay(base: Thresholds, raw: Any, source: str) -> Thresholds:
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise SloInvalid(f"{source}: expected a mapping of thresholds")
    known = {field.name: field.type for field in fields(Thresholds)}
    unknown = set(raw) - set(known)
    if unknown:
        raise SloInvalid(f"{source}: unknown thresholds {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for key, given in raw.items():
        value = given
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise SloInvalid(f"{source}: {key} must be a number >= 0, not {value!r}")
        if key in ("min_requests", "min_payments"):
            if int(value) != value:
                raise SloInvalid(f"{source}: {key} must be a whole number, not {value!r}")
            value = int(value)
        if key in ("max_failure_ratio", "min_payment_success") and value > 1:
            raise SloInvalid(f"{source}: {key} is a ratio between 0 and 1, not {value!r}")
        values[key] = value
    return replace(base, **values)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SloInvalid(f"cannot read thresholds file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SloInvalid(f"{path}: not valid YAML ({exc})") from None


def load_thresholds(env: str | None = None, override: Path | None = None, slo_dir: Path = SLO_DIR) -> Thresholds:
    """default.yml, then <env>.yml (when present), then `override` (when given; it must exist)."""
    thresholds = _overlay(Thresholds(), _read(slo_dir / "default.yml"), "default.yml")
    if env and (slo_dir / f"{env}.yml").exists():
        thresholds = _overlay(thresholds, _read(slo_dir / f"{env}.yml"), f"{env}.yml")
    if override is not None:
        thresholds = _overlay(thresholds, _read(Path(override)), str(override))
    return thresholds


def from_mapping(raw: dict[str, Any]) -> Thresholds:
    """Thresholds as serialised by as_dict() (how the runner hands them to the Locust process)."""
    return _overlay(Thresholds(), raw, "thresholds")
