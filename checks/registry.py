"""Automated checks by name. A check module registers its functions with @check("module.name"); the
catalogue names them. A check gets the Context and the entry's `args` and returns a Result."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from checks.context import Context
from checks.model import Result

CheckFunction = Callable[[Context, dict[str, Any]], Result]
REGISTRY: dict[str, CheckFunction] = {}
MODULES = (
    "testreports",
    "deps",
    "settings",
    "database",
    "backups",
    "tls",
    "http",
    "websecurity",
    "firewall",
    "logs",
    "metrics",
    "monitoring",
    "flags",
    "hosts",
    "releases",
    "payments",
    "dns",
)


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name} registered twice")
        REGISTRY[name] = function
        return function

    return register


def load() -> dict[str, CheckFunction]:
    for module in MODULES:
        importlib.import_module(f"checks.{module}")
    return REGISTRY
