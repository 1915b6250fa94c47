"""Helpers shared by the policies: which stack a resource belongs to, what counts as "anywhere"."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

PRODUCTION_STACKS = frozenset({"production"})


def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", maxsplit=1)[0].rsplit(":", maxsplit=1)[-1]


def is_production(urn: str) -> bool:
    return stack_of(urn) in PRODUCTION_STACKS


def is_anywhere(cidr: str) -> bool:
    """0.0.0.0/0, ::/0 (or any other /0)."""
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def any_anywhere(cidrs: Iterable[str] | None) -> bool:
    return any(is_anywhere(c) for c in cidrs or [])


def number(props: Mapping[str, Any], key: str, default: float = 0) -> float:
    value = props.get(key)
    return default if value is None else float(value)
