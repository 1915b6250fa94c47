"""Runs the Pulumi program (infra/__main__.py, exactly as the CLI would) under mocks for one stack."""

from __future__ import annotations

import asyncio
import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings

from infra.offline import stackfiles
from infra.offline.fake_aws import FakeAws
from infra.offline.recorder import Recorded, RecordingMonitor

PROJECT = "golive"
PROGRAM = Path(__file__).resolve().parents[1]  # infra/, Pulumi.yaml's `main`


@dataclass
class StackRun:
    stack: str
    resources: list[Recorded]  # sorted by URN
    outputs: dict[str, Any]  # what `pulumi stack output --json` would print
    secrets: list[str]  # the stand-in secret values, to prove they never leak
    lookups: list[tuple[str, dict[str, Any]]]  # the invokes the program made (token, arguments)

    @property
    def custom_resources(self) -> list[Recorded]:
        return [r for r in self.resources if r.custom]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        if len(found) != 1:
            raise LookupError(f"{len(found)} resources of type {typ}, expected one")
        return found[0]

    def named(self, typ: str, name: str) -> Recorded:
        found = [r for r in self.of_type(typ) if r.name == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} resources of type {typ} named {name}")
        return found[0]


def install_mocks(
    stack: str, config: dict[str, str], secret_keys: list[str], region: str, fake: FakeAws | None = None
) -> RecordingMonitor:
    """Pulumi's runtime is process-global: a fresh root stack, config and monitor for every run."""
    _ensure_event_loop()
    fake = fake or FakeAws(region=region)
    monitor = RecordingMonitor(fake)
    pulumi.runtime.set_all_config(config, secret_keys)
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]  (set_mocks then creates a new Stack)
    pulumi.runtime.set_mocks(fake, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    return monitor


def _ensure_event_loop() -> None:
    """Pulumi's mocks run on the thread's current event loop; a process that ran asyncio.run() before (an earlier
    test, a script) has none set any more."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(
    build: Callable[[], Any],
    stack: str = "staging",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    fake: FakeAws | None = None,
) -> StackRun:
    """Runs `build` as a Pulumi program under the fake AWS. When `build` returns an Output (say, an
    `Output.apply` holding assertions), it is awaited, so its assertions count."""
    config = dict(config or {})
    secret_keys = list(secret_keys or [])
    monitor = install_mocks(stack, config, secret_keys, config.get("aws:region", "eu-west-1"), fake)
    exported: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        result = build()
        root = pulumi.runtime.get_root_resource()
        return pulumi.Output.all(result, pulumi.Output.from_input(dict(root.outputs)).apply(exported.update))

    program()
    resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
    return StackRun(stack, resources, exported, [config[k] for k in secret_keys], monitor.mocks.lookups)


def run_stack(stack: str, overrides: dict[str, Any] | None = None) -> StackRun:
    """The whole program (infra/__main__.py, run by path as the CLI runs it) with the stack file's config."""
    config, secret_keys = stackfiles.load(stack, overrides)
    return run_program(_main, stack, config, secret_keys)


def _main() -> None:
    runpy.run_path(str(PROGRAM), run_name="__main__")
