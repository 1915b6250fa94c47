"""Fixtures for the checks' tests: an environment description pointing at real targets on loopback, and a context
aimed at a running service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checks.context import Context
from foundation.environment import Environment, parse_environment
from foundation.state import StateLayout


def environment(
    root: Path, *, entry_url: str = "http://127.0.0.1:9", ports: tuple[int, ...] = (), **extra: Any
) -> Environment:
    raw: dict[str, Any] = {
        "name": extra.pop("name", "local"),
        "transport": "local",
        "service_manager": "supervisord",
        "load_balancer": extra.pop("load_balancer", "none"),
        "root": str(root),
        "hosts": {"web": ["localhost"]},
        "instances": [{"name": f"web{n}", "port": port} for n, port in enumerate(ports or (9,), 1)],
        "entry_url": entry_url,
        "database": "embedded",
        "synthetic_traffic": extra.pop("synthetic_traffic", {"enabled": True}),
        "checks": extra.pop("checks", {}),
        **extra,
    }
    return parse_environment(raw)


@pytest.fixture
def make_context(tmp_path: Path):
    """make_context(entry_url=..., ports=(...), checks={...}, db_url=...) -> Context with its own state folder."""

    def make(*, db_url: str | None = None, record: dict[str, Any] | None = None, **kwargs: Any) -> Context:
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        return Context(environment(root, **kwargs), db_url, state=StateLayout(tmp_path / "state"), record=record)

    return make


@pytest.fixture
def against(make_context, db_url):
    """against(running_service, checks={...}) -> a Context whose entry point and instance are that service."""

    def make(running, **kwargs):
        port = int(running.url.rsplit(":", 1)[1])
        ctx = make_context(entry_url=running.url, ports=(port,), db_url=db_url, **kwargs)
        release = ctx.env.root / "releases" / "r1"
        release.mkdir(parents=True, exist_ok=True)
        if not (ctx.env.root / "current").is_symlink():
            (ctx.env.root / "current").symlink_to(release)  # a release is deployed (as the release engine leaves it)
        return ctx

    return make
