"""What a check answers: a status, what was measured and how (the command or request), never a secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a status, not a password)
    FAIL = "fail"
    UNVERIFIED = "could not check"  # the check could not measure (source unreachable, too few samples)
    NEEDS_SIGNOFF = "needs sign-off"
    SIGNED_OFF = "signed off"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Result:
    status: Status
    detail: str  # one line a person reads: what was measured and against what
    command: str = ""  # what was run or requested, so anyone can repeat it
    value: str | float | int | None = None  # the measured value, when there is one

    def as_dict(self) -> dict[str, object]:
        return {"status": str(self.status), "detail": self.detail, "command": self.command, "value": self.value}


class CheckError(Exception):
    """Raised by a check, or a helper it calls, when the box's answer is already known (the target did not answer,
    there is no release to read): the check's result is then this one. Registered checks never let it escape
    (checks/registry.py), so helpers return values, never error strings."""

    def __init__(
        self, detail: str, *, command: str = "", status: Status = Status.FAIL, value: str | float | int | None = None
    ) -> None:
        super().__init__(detail)
        self.result = Result(status, detail, command, value)


def result_of(measure: Callable[..., Result], *args: Any) -> Result:
    """What `measure(*args)` found: its Result, or the one a CheckError raised in it carries."""
    try:
        return measure(*args)
    except CheckError as error:
        return error.result


def passed(detail: str, command: str = "", value: str | float | int | None = None) -> Result:
    return Result(Status.PASS, detail, command, value)


def failed(detail: str, command: str = "", value: str | float | int | None = None) -> Result:
    return Result(Status.FAIL, detail, command, value)


def unverified(detail: str, command: str = "", value: str | float | int | None = None) -> Result:
    return Result(Status.UNVERIFIED, detail, command, value)


def not_applicable(detail: str, command: str = "") -> Result:
    return Result(Status.NOT_APPLICABLE, detail, command)


def needs_signoff(detail: str, command: str = "") -> Result:
    return Result(Status.NEEDS_SIGNOFF, detail, command)


def worst(results: list[Result]) -> Result:
    """Several measurements of one box: the first failure, else the first could-not-check, else all passed."""
    for status in (Status.FAIL, Status.UNVERIFIED, Status.NEEDS_SIGNOFF):
        found = [result for result in results if result.status == status]
        if found:
            return Result(status, "; ".join(r.detail for r in found), "; ".join(r.command for r in found if r.command))
    applicable = [result for result in results if result.status != Status.NOT_APPLICABLE]
    if not applicable:
        return results[0] if results else not_applicable("nothing to measure")
    return Result(
        Status.PASS,
        "; ".join(r.detail for r in applicable),
        "; ".join(r.command for r in applicable if r.command),
        applicable[0].value if len(applicable) == 1 else None,
    )
