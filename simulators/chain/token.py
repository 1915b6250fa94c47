"""The committed USDT-like token artifact (ABI + bytecode) and the source it was compiled from."""

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).parent / "contracts"
TOKEN_SOURCE = CONTRACTS_DIR / "TetherLikeToken.vy"
TOKEN_ARTIFACT = CONTRACTS_DIR / "TetherLikeToken.json"
DECIMALS = 6


@cache
def load_artifact() -> dict[str, Any]:
    return json.loads(TOKEN_ARTIFACT.read_text())


def abi() -> list[dict[str, Any]]:
    return load_artifact()["abi"]


def bytecode() -> bytes:
    return bytes.fromhex(load_artifact()["bytecode"].removeprefix("0x"))
