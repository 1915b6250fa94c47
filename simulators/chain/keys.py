"""Where the treasury's private key comes from. The key itself is never printed, logged or served."""

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

ENV_TREASURY_KEY = "GOLIVE_TREASURY_PRIVATE_KEY"
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeyProblem(ValueError):
    pass


def parse_key(text: str, origin: str) -> bytes:
    value = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise KeyProblem(f"{origin}: not a hex private key") from None
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < SECP256K1_ORDER:
        raise KeyProblem(f"{origin}: not a valid 32-byte secp256k1 private key")
    return raw


def resolve_treasury_key(environ: Mapping[str, str], key_file: Path | None) -> tuple[bytes, str]:
    """(key, where it came from). The environment variable wins; otherwise --treasury-key-file is read if it
    exists or created (mode 0600) with a new key; with neither, a throwaway key lives only in memory."""
    from_env = environ.get(ENV_TREASURY_KEY, "")
    if from_env:
        if key_file is not None:
            raise KeyProblem(f"give the treasury key by {ENV_TREASURY_KEY} or by --treasury-key-file, not both")
        return parse_key(from_env, ENV_TREASURY_KEY), f"from {ENV_TREASURY_KEY}"
    if key_file is None:
        return _new_key(), "generated, held in memory only (no one can sign for it)"
    if key_file.exists():
        mode = key_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyProblem(
                f"--treasury-key-file {key_file}: readable by others (mode {oct(mode & 0o777)}): chmod 600"
            )
        return parse_key(key_file.read_text(), f"--treasury-key-file {key_file}"), f"read from {key_file}"
    if not key_file.parent.is_dir():
        raise KeyProblem(f"--treasury-key-file {key_file}: directory {key_file.parent} does not exist")
    key = _new_key()
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("0x" + key.hex() + "\n")
    return key, f"generated, written to {key_file} (mode 0600)"


def _new_key() -> bytes:
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
            return key
