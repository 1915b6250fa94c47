"""Fixtures for the Daraja simulator tests; the machinery lives in daraja_harness.py."""

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# The test modules import daraja_harness; make that work whatever pytest's import mode is.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from daraja_harness import (
    CALLBACK_DELAY,
    CallbackReceiver,
    DarajaClient,
    RunningSimulator,
    run_simulator,
)


@pytest.fixture(scope="session")
def daraja_simulator() -> Iterator[RunningSimulator]:
    with run_simulator("--callback-delay", str(CALLBACK_DELAY)) as running:
        yield running


@pytest.fixture(scope="session")
def daraja_http(daraja_simulator: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=daraja_simulator.base_url, timeout=10) as http:
        yield http


@pytest.fixture
def daraja(daraja_simulator: RunningSimulator, daraja_http: httpx.Client) -> DarajaClient:
    """A client of the shared simulator, reset to its startup state for this test."""
    client = DarajaClient(daraja_simulator.base_url, http=daraja_http)
    client.reset()
    return client


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def receiver(receiver_server: CallbackReceiver) -> CallbackReceiver:
    receiver_server.status = 200
    receiver_server.answer_after = 0.0
    return receiver_server
