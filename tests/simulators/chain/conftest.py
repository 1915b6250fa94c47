"""Fixtures for the chain simulator tests: one simulator process for the session, reset before each test, and a
stock web3 HTTPProvider pointed at it."""

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

if not os.environ.get("CI"):  # in CI a missing extra is a failure, never a skip
    pytest.importorskip("web3", reason="the chain simulator needs the 'chain' extra (web3, eth-tester[py-evm])")
    pytest.importorskip("eth_tester", reason="the chain simulator needs the 'chain' extra")

from chain_harness import TREASURY_KEY, Control, RunningChain, run_chain
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from simulators.chain import token


@pytest.fixture(scope="session")
def chain_server() -> Iterator[RunningChain]:
    with run_chain() as running:
        yield running


@pytest.fixture(scope="session")
def control_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as http:
        yield http


@dataclass
class Chain:
    url: str
    control: Control
    w3: Web3
    info: dict[str, Any]
    treasury: LocalAccount

    @property
    def usdt(self) -> Contract:
        return self.w3.eth.contract(address=self.info["token"]["address"], abi=token.abi())

    def new_account(self, ether: str = "10") -> LocalAccount:
        account = Account.create()
        self.control.fund(account.address, ether=ether)
        return account


@pytest.fixture
def chain(chain_server: RunningChain, control_http: httpx.Client) -> Chain:
    """The shared simulator, reset to its startup state, with a fresh web3 client."""
    control = Control(chain_server.url, control_http)
    info = control.reset()
    w3 = Web3(Web3.HTTPProvider(chain_server.url, request_kwargs={"timeout": 10}))
    return Chain(chain_server.url, control, w3, info, Account.from_key(TREASURY_KEY))
