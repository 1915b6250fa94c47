"""A web host's settings file (<root>/shared/golive.env, as roles/app writes it) for the checks and release tests:
a complete production set whose secrets the tests look for in what is shown."""

from __future__ import annotations

from pathlib import Path

SECRETS = {
    "GOLIVE_DATABASE_URL": "postgresql://golive:db-password-417@db.internal:5432/golive",
    "GOLIVE_DARAJA_CONSUMER_KEY": "ck-production-1234567890",
    "GOLIVE_DARAJA_CONSUMER_SECRET": "cs-production-0987654321",
    "GOLIVE_CALLBACK_SECRET": "cb-" + "7" * 40,
    "GOLIVE_DARAJA_PASSKEY": "pk-production-5555555555",
    "GOLIVE_TREASURY_PRIVATE_KEY": "0x" + "3d" * 32,
}
PRODUCTION = {
    "GOLIVE_ENV": "production",
    "GOLIVE_PUBLIC_BASE_URL": "https://pay.example.com",
    "GOLIVE_DARAJA_BASE_URL": "https://api.safaricom.co.ke",
    "GOLIVE_DARAJA_SHORTCODE": "600123",
    "GOLIVE_CHAIN_RPC_URL": "https://rpc.example.com/v1",
    "GOLIVE_CHAIN_ID": "1",
    "GOLIVE_USDT_TOKEN_ADDRESS": "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    **SECRETS,
}


def write_settings(root: Path, values: dict[str, str], mode: int = 0o600) -> Path:
    path = root / "shared" / "golive.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(mode)
    return path
