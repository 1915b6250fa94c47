"""RPC fault switches: a share of calls (or the next N) fail, and answers are delayed."""

import random
from dataclasses import asdict, dataclass, replace
from typing import Any

FAIL_MODES = ("error", "http503", "http429")


class FaultError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Faults:
    fail_rate: float = 0.0  # 0..1: share of matching calls that fail
    fail_mode: str = "error"  # error: JSON-RPC error -32603 (HTTP 200); http503 / http429: the whole request
    fail_methods: tuple[str, ...] | None = None  # only these methods (None: every method)
    fail_count: int | None = None  # fail at most this many more calls, then stop (None: no limit)
    delay: float = 0.0  # seconds before answering
    delay_methods: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        result = asdict(self)
        for key in ("fail_methods", "delay_methods"):
            if result[key] is not None:
                result[key] = list(result[key])
        return result

    def updated(self, update: Any) -> "Faults":
        if not isinstance(update, dict):
            raise FaultError("body", "a JSON object expected")
        unknown = set(update) - set(self.to_json())
        if unknown:
            raise FaultError(sorted(unknown)[0], f"unknown key (known: {', '.join(self.to_json())})")
        changes: dict[str, Any] = {}
        for key, value in update.items():
            if key == "fail_rate":
                changes[key] = _number(key, value, 0, 1)
            elif key == "delay":
                changes[key] = _number(key, value, 0, 600)
            elif key == "fail_mode":
                if value not in FAIL_MODES:
                    raise FaultError(key, f"one of {', '.join(FAIL_MODES)}")
                changes[key] = value
            elif key == "fail_count":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    raise FaultError(key, "a whole number >= 0, or null")
                changes[key] = value
            else:
                if value is not None and (not isinstance(value, list) or not all(isinstance(m, str) for m in value)):
                    raise FaultError(key, "a list of method names, or null for every method")
                changes[key] = tuple(value) if value is not None else None
        return replace(self, **changes)

    def delay_for(self, methods: list[str]) -> float:
        if not self.delay:
            return 0.0
        if self.delay_methods is None or any(m in self.delay_methods for m in methods):
            return self.delay
        return 0.0

    def selects(self, method: str, rng: random.Random) -> bool:
        """Whether this call fails; the caller then spends one of fail_count."""
        if self.fail_rate <= 0 or self.fail_count == 0:
            return False
        if self.fail_methods is not None and method not in self.fail_methods:
            return False
        return self.fail_rate >= 1 or rng.random() < self.fail_rate

    def spent_one(self) -> "Faults":
        return self if self.fail_count is None else replace(self, fail_count=self.fail_count - 1)


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FaultError(key, f"a number from {low} to {high}")
    return value
