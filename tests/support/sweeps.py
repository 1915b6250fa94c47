"""Sweeps for testing the worker's loop (registered as "tests.support.sweeps:<name>")."""

from __future__ import annotations

import asyncio


async def boom(_ctx) -> int:
    raise RuntimeError("boom")


async def seven(_ctx) -> int:
    return 7


async def slow(_ctx) -> int:
    await asyncio.sleep(30)
    return 1
