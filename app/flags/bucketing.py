"""Deterministic rollout buckets: the same payer always lands in the same bucket of a feature, so
raising a percentage only ever adds payers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    feature: str
    enabled: bool
    percentage: int


def bucket(feature: str, payer: str) -> int:
    digest = hashlib.sha256(f"{feature}:{payer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def allows(flag: Flag | None, payer: str) -> bool:
    if flag is None or not flag.enabled:
        return False
    return bucket(flag.feature, payer) < flag.percentage
