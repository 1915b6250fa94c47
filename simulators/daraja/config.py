"""The switches tests and operators flip at run time through POST /__sim__/config."""

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulators.daraja.outcomes import is_valid_outcome

PENDING_QUERY_ANSWERS = ("random", "4999", "error")
_MSISDN = re.compile(r"254[71][0-9]{8}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,5}")


class ConfigError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class SimConfig:
    spike_arrest: bool = False
    force_invalid_token: bool = False
    response_delay: float = 0.0
    drop_push_answer: bool = False
    callback_delay: float = 0.5
    token_ttl: float = 3599
    invalidate_previous_token: bool = True
    expires_in_as_number: bool = False
    flaky_query_share: float = 0.0
    pending_query_answer: str = "random"
    outcomes: dict[str, str] = field(default_factory=dict)
    amount_outcomes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, update: object) -> "SimConfig":
        """A copy with the keys of `update` replaced (top level: a new `outcomes` replaces the old map).
        All keys are checked before any is applied."""
        if not isinstance(update, dict):
            raise ConfigError("body", "must be a JSON object of config keys")
        changes = {}
        for key, value in update.items():
            check = _CHECKS.get(key)
            if check is None:
                raise ConfigError(key, "unknown config key")
            changes[key] = check(key, value)
        return dataclasses.replace(self, **changes)


def _boolean(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, "must be true or false")
    return value


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(key, "must be a number")
    return value


def _non_negative(key: str, value: object) -> float:
    number = _number(key, value)
    if number < 0:
        raise ConfigError(key, "must be >= 0")
    return number


def _positive(key: str, value: object) -> float:
    number = _number(key, value)
    if number <= 0:
        raise ConfigError(key, "must be > 0")
    return number


def _share(key: str, value: object) -> float:
    number = _number(key, value)
    if not 0 <= number <= 1:
        raise ConfigError(key, "must be between 0 and 1")
    return number


def _pending_query_answer(key: str, value: object) -> str:
    if value not in PENDING_QUERY_ANSWERS:
        raise ConfigError(key, f"must be one of {', '.join(PENDING_QUERY_ANSWERS)}")
    return value


def _outcome_map(key_pattern: re.Pattern[str], key_kind: str) -> Callable[[str, object], dict[str, str]]:
    def check(key: str, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be an object of {key_kind} -> outcome")
        for entry_key, outcome in value.items():
            if not key_pattern.fullmatch(entry_key):
                raise ConfigError(key, f"{entry_key!r} is not a {key_kind}")
            if not is_valid_outcome(outcome):
                raise ConfigError(
                    key,
                    f'{outcome!r} is not an outcome (a result code string such as "1032", '
                    "or no_callback, duplicate_callback, late_callback)",
                )
        return dict(value)

    return check


_CHECKS: dict[str, Callable[[str, object], Any]] = {
    "spike_arrest": _boolean,
    "force_invalid_token": _boolean,
    "response_delay": _non_negative,
    "drop_push_answer": _boolean,
    "callback_delay": _non_negative,
    "token_ttl": _positive,
    "invalidate_previous_token": _boolean,
    "expires_in_as_number": _boolean,
    "flaky_query_share": _share,
    "pending_query_answer": _pending_query_answer,
    "outcomes": _outcome_map(_MSISDN, "MSISDN (2547XXXXXXXX / 2541XXXXXXXX)"),
    "amount_outcomes": _outcome_map(_AMOUNT, 'whole amount as a string (e.g. "1500")'),
}
