"""EVM wallet addresses (USDT on an EVM chain): format and EIP-55 checksum validation."""

from __future__ import annotations

import re

from Crypto.Hash import keccak

_ADDRESS_HEX_LENGTH = 40
_HEX = re.compile(r"[0-9a-fA-F]")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ZERO_ADDRESS = "0x" + "0" * _ADDRESS_HEX_LENGTH


class InvalidWalletAddress(ValueError):
    """The address is malformed, unchecksummed, wrongly checksummed or the zero address."""


def to_checksum_address(address: str) -> str:
    """EIP-55: upper-case each hex letter whose nibble in keccak256(lower-case hex) is 8 or more."""
    _check_format(address)
    hex_part = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=hex_part.encode("ascii")).hexdigest()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) >= 8 else char
        for char, nibble in zip(hex_part, digest[:_ADDRESS_HEX_LENGTH], strict=True)
    )


def validate_wallet_address(raw: str) -> str:
    """The checksummed address, or InvalidWalletAddress saying what is wrong (never guessing a fix)."""
    if not isinstance(raw, str):
        raise InvalidWalletAddress(f"wallet address must be a string: got {type(raw).__name__}")
    address = raw.strip()
    _check_format(address)
    if address.lower() == _ZERO_ADDRESS:
        raise InvalidWalletAddress("wallet address is the zero address: funds sent there are lost")
    checksummed = to_checksum_address(address)
    if address == checksummed:
        return checksummed
    hex_part = address[2:]
    if hex_part in (hex_part.lower(), hex_part.upper()):
        raise InvalidWalletAddress(
            "wallet address has no EIP-55 checksum (it is all lower- or upper-case): "
            "send the checksummed, mixed-case form your wallet shows"
        )
    # Do not reveal the correct checksum: a typo must be caught, not auto-corrected into someone's address.
    raise InvalidWalletAddress("wallet address checksum (EIP-55) is wrong: check the address for typos")


def _check_format(address: str) -> None:
    if not isinstance(address, str):
        raise InvalidWalletAddress(f"wallet address must be a string: got {type(address).__name__}")
    if _ADDRESS.fullmatch(address):
        return
    if not address.startswith("0x"):
        raise InvalidWalletAddress("wallet address must start with 0x")
    hex_part = address[2:]
    for position, char in enumerate(hex_part, start=3):
        if not _HEX.fullmatch(char):
            raise InvalidWalletAddress(f"wallet address has a non-hex character at position {position}")
    raise InvalidWalletAddress(
        f"wallet address must be 0x followed by {_ADDRESS_HEX_LENGTH} hex digits: got {len(hex_part)}"
    )
