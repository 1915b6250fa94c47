"""The sweeps, in the order one pass runs them. Adding a sweep is one line: ("name", "module:function"), where
the function is `async def sweep(ctx: app.worker.context.SweepContext) -> int` returning the items it handled.

Each sweep must be bounded (at most ctx.limit items per pass) and safe to interrupt at any await: the worker
cancels a pass the moment it loses its lease, and may be killed at any point.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

SWEEPS: list[tuple[str, str]] = [
    ("callbacks", "app.worker.sweeps.callbacks:sweep"),  # callbacks stored but never applied
    ("stk_query", "app.worker.sweeps.stk_query:sweep"),  # submitted, no callback after T: ask Daraja
    ("stale_initiated", "app.worker.sweeps.stale_initiated:sweep"),  # the push's sender died: unknown
    ("payouts_start", "app.worker.sweeps.payouts:start_payouts"),  # paid → payout_pending (amount in base units)
    ("payouts_send", "app.worker.sweeps.payouts:send_payouts"),  # nonce, sign, store, send (or wait for funds)
    ("payouts_track", "app.worker.sweeps.payouts:track_payouts"),  # receipts of every hash; replace if stuck
    ("payouts_confirm", "app.worker.sweeps.payouts:confirm_payouts"),  # N confirmations, block re-checked
    ("cases", "app.worker.sweeps.cases:sweep"),  # open/close recovery cases from the payments' states
    ("census", "app.worker.sweeps.census:sweep"),  # stuck-item gauges (last: it sees the pass's results)
]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
SweepFunction = Callable[[Any], Awaitable[int]]


class RegistryError(ValueError):
    """A registry entry cannot be used; the message names it."""


@dataclass(frozen=True)
class Sweep:
    name: str
    target: str
    run: SweepFunction


def resolve(entries: Sequence[tuple[str, str]] = SWEEPS, only: Sequence[str] = ()) -> list[Sweep]:
    """Imports every entry (failing at start-up, not mid-pass), keeping only the named ones when `only` is given."""
    names = [name for name, _ in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RegistryError(f"sweep names registered twice: {', '.join(duplicates)}")
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise RegistryError(f"no such sweep: {', '.join(unknown)} (known: {', '.join(names)})")
    return [_load(name, target) for name, target in entries if not only or name in only]


def _load(name: str, target: str) -> Sweep:
    if not _NAME.fullmatch(name):
        raise RegistryError(f"sweep name {name!r}: lower-case letters, digits and _ (at most 40)")
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise RegistryError(f"sweep {name}: target {target!r} is not 'module:function'")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"sweep {name}: cannot load {target} ({exc})") from exc
    if not inspect.iscoroutinefunction(function):
        raise RegistryError(f"sweep {name}: {target} is not an async function")
    return Sweep(name, target, function)
