"""What every task shares: the Controller of --env, and the operation's ExitCode as the process's exit code
(a refusal says why and exits 2: nothing was changed)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from invoke.exceptions import Exit

from foundation.environment import EnvironmentInvalid
from release.controller import Controller
from release.database import DatabaseUnreachable
from release.exit_codes import ExitCode, Refused


def controller(env: str | None) -> Controller:
    if not env:
        raise Refused("--env is required (local, lab, staging, production)")
    try:
        return Controller.of(env)
    except EnvironmentInvalid as exc:
        raise Refused(str(exc)) from None


def exits(task: Callable[..., ExitCode | None]) -> Callable[..., None]:
    """ExitCode -> the process's exit code; Refused (and an unreachable database) -> its message and 2."""

    @wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = task(*args, **kwargs)
        except (Refused, DatabaseUnreachable) as exc:
            raise Exit(str(exc), code=int(ExitCode.REFUSED)) from None
        if code is not None and int(code) != 0:
            raise Exit(code=int(code))

    return wrapper
