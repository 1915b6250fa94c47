"""Automated checks by name. A module of the checks package registers its functions with @check("concern.name");
the catalogue names them. A check gets the Context and the entry's `args` and returns a Result (or raises a
CheckError, which becomes its Result). Every module of the package is imported to find them: a new module is
found without being listed anywhere."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from checks.context import Context
from checks.model import Result, result_of

CheckFunction = Callable[[Context, dict[str, Any]], Result]
REGISTRY: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name} registered twice")

        @functools.wraps(function)
        def measured(ctx: Context, args: dict[str, Any]) -> Result:
            return result_of(function, ctx, args)

        REGISTRY[name] = measured
        return measured

    return register


def load(package: str = "checks") -> dict[str, CheckFunction]:
    """Every registered check, each module of `package` imported first so that its @check decorators run."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
    return REGISTRY
