"""Shared fixtures: one embedded PostgreSQL, one Daraja simulator and one service for the session;
tests that need other settings start their own service with `service_factory`."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.db import migrator
from app.local import embedded_postgres
from tests.support.kinds import kind
from tests.support.service import RunningService, start_service
from tests.support.simulator import Simulator

pytest_plugins = [
    "tests.support.cpu_per_test",
    "tests.support.lab.plugin",
    "tests.support.lab_outputs",
    "tests.support.parallel",
    "tests.support.wheelhouses",
]

# The developer's shell must not steer the tests.
for _name in [name for name in os.environ if name.startswith("GOLIVE_")] + ["PROMETHEUS_MULTIPROC_DIR"]:
    os.environ.pop(_name, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.user_properties.append(("kind", kind(item)))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of the embedded server's maintenance database. Its folder is outside pytest's temporary tree,
    which another pytest run on the same machine may prune while this one still runs."""
    data = Path(tempfile.mkdtemp(prefix="golive-pg-"))
    url = embedded_postgres.start(data / "data")
    yield url
    embedded_postgres.stop(data / "data")
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def database_factory(pg_server: str):
    """Creates a fresh, empty database and returns its URL."""
    counter = iter(range(1000))

    def create(prefix: str = "golive") -> str:
        name = f"{prefix}_{next(counter)}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return pg_server.replace("/postgres?", f"/{name}?", 1)

    return create


@pytest.fixture(scope="session")
def db_url(database_factory) -> str:
    url = database_factory("golive_test")
    migrator.migrate(url)
    return url


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    sim = Simulator()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def service(db_url: str, simulator: Simulator, state_dir: Path) -> Iterator[RunningService]:
    running = start_service(db_url, simulator.url, state_dir)
    yield running
    running.stop()


@pytest.fixture
def sim(simulator: Simulator, db_url: str) -> Iterator[Simulator]:
    """The session's simulator, back to its defaults. A reset also revokes every token the simulator
    issued, so the shared token row goes too (as if Daraja had been restarted with a new deployment)."""

    def reset() -> None:
        simulator.reset()
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("DELETE FROM daraja_tokens")

    reset()
    yield simulator
    reset()


@pytest.fixture
def service_factory(db_url: str, simulator: Simulator, state_dir: Path):
    started: list[RunningService] = []

    def start(**overrides: Any) -> RunningService:
        overrides.setdefault("db_url", db_url)
        overrides.setdefault("daraja_url", simulator.url)
        running = start_service(overrides.pop("db_url"), overrides.pop("daraja_url"), state_dir, **overrides)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def chain_url() -> Iterator[str]:
    """The chain simulator for the session (payouts, /api/blockchain/health): started on first use."""
    from tests.simulators.chain.chain_harness import run_chain  # noqa: PLC0415 (only tests that use it pay)

    with run_chain() as running:
        yield running.url


@pytest.fixture(scope="session")
def chain_control_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as http:
        yield http


@pytest.fixture
def control(chain_url: str, chain_control_http: httpx.Client):
    """The chain simulator's /__chain__ API, the chain reset to its startup state."""
    from tests.simulators.chain.chain_harness import Control  # noqa: PLC0415

    control = Control(chain_url, chain_control_http)
    control.reset()
    return control
