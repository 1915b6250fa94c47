"""Service settings: environment variables prefixed GOLIVE_, validated at start-up.

A production (or staging) process refuses to start when a required setting is missing or malformed
and says which one. local, test and lab get generated throwaway secrets, kept in a 0600 file so that
every worker process of one host shares them.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import secrets
import tempfile
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["local", "test", "lab", "staging", "production"]
STRICT_ENVIRONMENTS = ("staging", "production")

SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SAFARICOM_CALLBACK_SOURCES = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
)
# Daraja refuses a CallBackURL containing any of these words.
CALLBACK_URL_FORBIDDEN_WORDS = ("mpesa", "safaricom", "query", "exe", "exec", "cmd", "sql")
# Settings that must come from the operator in staging/production; generated elsewhere.
GENERATED_SECRETS = ("daraja_consumer_key", "daraja_consumer_secret", "callback_secret", "treasury_private_key")
# What a staging or production process must be given, each explicitly: a default here suits only local, test and
# lab, where the simulators stand in. playbooks/vars/<env>.yml sets every one (tests/roles/test_app_settings.py).
STRICT_REQUIRED = (
    "database_url",
    "public_base_url",
    "daraja_base_url",
    "daraja_shortcode",
    "daraja_passkey",
    *GENERATED_SECRETS,
    "chain_rpc_url",
    "chain_id",
    "usdt_token_address",
)
# The chain simulator deploys its token from a fixed account, so the address is the same on every start: the
# default outside staging/production (tests/app/test_settings.py checks it against the simulator).
SIMULATOR_TOKEN_ADDRESS = "0x3CDBf68d41d2d02fB94066C3dC6342df9E122669"  # noqa: S105 (an address, not a secret)
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CommaList = Annotated[list[str], NoDecode]


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOLIVE_", extra="ignore")

    env: Environment = "local"
    # Where local/test keep generated secrets and other per-host state.
    state_dir: Path = Path("state")

    database_url: SecretStr | None = None
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)
    db_statement_timeout_ms: int = Field(5000, ge=100)

    daraja_base_url: str = "http://127.0.0.1:8100"
    daraja_consumer_key: SecretStr | None = None
    daraja_consumer_secret: SecretStr | None = None
    daraja_passkey: SecretStr = SecretStr(SANDBOX_PASSKEY)
    daraja_shortcode: str = "174379"
    daraja_transaction_type: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"] = "CustomerPayBillOnline"
    # PartyB: the paybill (same as the shortcode) or, for buy goods, the till number.
    daraja_party_b: str | None = None
    daraja_account_reference: str = "GoLive"
    daraja_transaction_desc: str = "USDT package"
    daraja_timeout_seconds: float = Field(10.0, gt=0)
    daraja_connect_timeout_seconds: float = Field(3.0, gt=0)
    # Refresh the shared OAuth token this long before it expires.
    daraja_token_refresh_margin_seconds: int = Field(60, ge=0)

    # The service's public base URL; Daraja posts callbacks under it.
    public_base_url: str = "http://127.0.0.1:8000"
    callback_secret: SecretStr | None = None
    callback_allowlist_enabled: bool = False
    callback_allowed_sources: CommaList = list(SAFARICOM_CALLBACK_SOURCES)
    # Peers whose X-Forwarded-For is believed (the load balancer); CIDRs.
    trusted_proxies: CommaList = []

    cors_origins: CommaList = []
    max_body_bytes: int = Field(16 * 1024, ge=256)
    rate_limit_enabled: bool = True
    # Requests per client address per minute, per worker process.
    rate_limit_per_minute: int = Field(120, ge=1)
    rate_limit_burst: int = Field(30, ge=1)
    # Callbacks refused (wrong token, source outside the allowlist) per client address per minute, per worker
    # process, before they answer 429; a callback with the right token is never held back by this.
    callback_refused_per_minute: int = Field(30, ge=1)
    callback_refused_burst: int = Field(10, ge=1)
    feature_flag_cache_seconds: float = Field(2.0, ge=0)

    # The chain and the USDT payouts (app/payouts).
    chain_rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int = Field(31337, ge=1, le=2**53 - 1)
    chain_timeout_seconds: float = Field(5.0, gt=0)
    chain_connect_timeout_seconds: float = Field(2.0, gt=0)
    # The head block older than this makes /api/blockchain/health unhealthy.
    chain_head_stale_seconds: float = Field(120.0, gt=0)
    usdt_token_address: str | None = None
    # The treasury's key (0x + 64 hex digits): it signs every payout. Never logged, never answered.
    treasury_private_key: SecretStr | None = None
    payouts_enabled: bool = True
    # Blocks counting the receipt's own: the payout completes when the head is this deep over it.
    payout_confirmations: int = Field(2, ge=1, le=1000)
    # A broadcast transaction with no receipt after this long is replaced at the same nonce with higher fees.
    payout_stuck_seconds: float = Field(30.0, gt=0)
    payout_fee_bump_percent: int = Field(15, ge=10, le=300)
    payout_max_fee_gwei: float = Field(500.0, gt=0)
    # Sends that fail this many times in a row put the payout in front of a person.
    payout_max_send_failures: int = Field(20, ge=1)
    # The recovery worker (python -m app.worker).
    # Pause between two passes of every sweep.
    worker_tick_seconds: float = Field(2.0, gt=0, le=300)
    # Leader lease lifetime; renewed every third of it, so a crashed leader is replaced within about this long.
    worker_lease_ttl_seconds: float = Field(6.0, ge=1, le=300)
    # Items each sweep takes per pass at most.
    worker_batch_size: int = Field(100, ge=1, le=10_000)
    # On SIGTERM, how long the current sweep may run on before it is cancelled.
    worker_shutdown_grace_seconds: float = Field(5.0, ge=0, le=60)
    # A submitted payment without a callback this long after the push is asked about with an STK query.
    recovery_query_after_seconds: float = Field(60.0, ge=0)
    # Delay before the second query, multiplied by the factor after each "ask later", capped at the maximum.
    recovery_query_backoff_initial_seconds: float = Field(15.0, gt=0)
    recovery_query_backoff_factor: float = Field(2.0, ge=1, le=10)
    recovery_query_backoff_max_seconds: float = Field(300.0, gt=0)
    # No definite answer this long after the push: the payment goes to unknown (needs review).
    recovery_query_deadline_seconds: float = Field(1800.0, gt=0)
    # An initiated payment this old lost its push's answer with the process that sent it: unknown (needs review).
    recovery_initiated_after_seconds: float = Field(300.0, gt=0)
    # A payout broadcast, confirming or pending this long counts as stuck.
    recovery_payout_stuck_seconds: float = Field(600.0, gt=0)

    # Error tracking: unhandled errors go to this Sentry DSN when set (app/observability/error_tracking.py).
    # A secret: its key lets anyone post events. Never logged, never answered.
    sentry_dsn: SecretStr | None = None

    release_id: str = "dev"
    git_sha: str = "unknown"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("callback_allowed_sources", "trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("callback_allowed_sources", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR: {item!r}") from exc
        return value

    @field_validator("usdt_token_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not (
            len(value) == 42 and value.startswith("0x") and all(c in "0123456789abcdefABCDEF" for c in value[2:])
        ):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value

    @field_validator("treasury_private_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value().strip()
        digits = text[2:] if text.startswith("0x") else text
        try:
            number = int(digits, 16) if len(digits) == 64 else 0
        except ValueError:
            number = 0
        if not 0 < number < SECP256K1_ORDER:
            raise ValueError("must be a 32-byte secp256k1 private key in hex (the value is not shown)")
        return SecretStr("0x" + digits.lower())

    @field_validator("sentry_dsn")
    @classmethod
    def _sentry_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        if not text:
            return None  # GOLIVE_SENTRY_DSN= (empty): error tracking off
        if not _is_sentry_dsn(text):
            raise ValueError("must be a Sentry DSN, http(s)://<key>@<host>/<project id> (the value is not shown)")
        return SecretStr(text)

    @field_validator("daraja_shortcode")
    @classmethod
    def _shortcode(cls, value: str) -> str:
        if not (value.isdigit() and 5 <= len(value) <= 7):
            raise ValueError("must be 5-7 digits")
        return value

    @field_validator("daraja_account_reference")
    @classmethod
    def _account_reference(cls, value: str) -> str:
        if not (value.isalnum() and value.isascii() and 1 <= len(value) <= 12):
            raise ValueError("must be 1-12 letters or digits (it is printed in the payer's SMS)")
        return value

    @field_validator("daraja_transaction_desc")
    @classmethod
    def _transaction_desc(cls, value: str) -> str:
        if not (1 <= len(value) <= 13 and all(ch.isalnum() or ch == " " for ch in value)):
            raise ValueError("must be 1-13 letters, digits or spaces")
        return value

    @field_validator("public_base_url", "daraja_base_url", "chain_rpc_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("public_base_url")
    @classmethod
    def _callback_words(cls, value: str) -> str:
        lowered = value.lower()
        bad = [word for word in CALLBACK_URL_FORBIDDEN_WORDS if word in lowered]
        if bad:
            raise ValueError(f"Daraja rejects callback URLs containing {', '.join(bad)!s}")
        return value

    @model_validator(mode="after")
    def _recovery_timings(self) -> Settings:
        if self.recovery_query_deadline_seconds <= self.recovery_query_after_seconds:
            raise ValueError(
                "GOLIVE_RECOVERY_QUERY_DEADLINE_SECONDS must be longer than GOLIVE_RECOVERY_QUERY_AFTER_SECONDS"
            )
        if self.recovery_query_backoff_max_seconds < self.recovery_query_backoff_initial_seconds:
            raise ValueError(
                "GOLIVE_RECOVERY_QUERY_BACKOFF_MAX_SECONDS must be at least "
                "GOLIVE_RECOVERY_QUERY_BACKOFF_INITIAL_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _strict_environment(self) -> Settings:
        if self.env not in STRICT_ENVIRONMENTS:
            return self
        missing = [name for name in STRICT_REQUIRED if name not in self.model_fields_set or _unset(getattr(self, name))]
        if missing:
            names = ", ".join(f"GOLIVE_{name.upper()}" for name in missing)
            raise ValueError(f"required in {self.env}: {names}")
        for name in ("public_base_url", "daraja_base_url"):
            if not getattr(self, name).startswith("https://"):
                raise ValueError(f"GOLIVE_{name.upper()} must be https:// in {self.env}")
        if self.daraja_passkey.get_secret_value() == SANDBOX_PASSKEY and self.env == "production":
            raise ValueError("GOLIVE_DARAJA_PASSKEY is the public sandbox passkey; set the production one")
        if len(self.callback_secret.get_secret_value()) < 32:
            raise ValueError("GOLIVE_CALLBACK_SECRET must be at least 32 characters")
        return self

    @property
    def party_b(self) -> str:
        return self.daraja_party_b or self.daraja_shortcode

    @property
    def token_address(self) -> str:
        return self.usdt_token_address or SIMULATOR_TOKEN_ADDRESS

    @property
    def serves_tls(self) -> bool:
        return self.public_base_url.startswith("https://")

    def secret_values(self) -> list[str]:
        """Every secret value, for the log redactor."""
        values = [self.daraja_passkey.get_secret_value()]
        for name in ("database_url", *GENERATED_SECRETS):
            secret = getattr(self, name)
            if secret is not None:
                values.append(secret.get_secret_value())
        if self.sentry_dsn is not None:
            dsn = self.sentry_dsn.get_secret_value()
            values += [dsn, urlsplit(dsn).username or ""]  # the key alone too (Sentry's auth header carries it)
        return values


def _unset(value: object) -> bool:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text is None or text == ""


def _is_sentry_dsn(text: str) -> bool:
    try:
        url = urlsplit(text)
        _ = url.port  # raises on a port that is not a number
    except ValueError:
        return False
    project = url.path.rstrip("/").rsplit("/", 1)[-1]
    return url.scheme in ("http", "https") and bool(url.username) and bool(url.hostname) and project.isdigit()


def _throwaway_secrets(state_dir: Path) -> dict[str, str]:
    """Generated once per state folder and shared by every process that reads it. The file appears
    whole or not at all (written aside, then linked into place), so workers starting together agree."""
    path = state_dir / "secrets.json"
    state_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        generated = {name: _generate(name) for name in GENERATED_SECRETS}
        fd, draft = tempfile.mkstemp(dir=state_dir, prefix=".secrets-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(generated, handle)
            os.link(draft, path)  # fails if another process got there first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    stored = json.loads(path.read_text())
    if set(GENERATED_SECRETS) - set(stored):
        stored = _add_missing(path, stored)
    return stored


def _generate(name: str) -> str:
    if name == "treasury_private_key":
        while True:  # a random 32-byte number is a valid key but for a chance of about 2**-128
            key = secrets.token_hex(32)
            if 0 < int(key, 16) < SECP256K1_ORDER:
                return "0x" + key
    return secrets.token_urlsafe(32)


def _add_missing(path: Path, stored: dict[str, str]) -> dict[str, str]:
    """A state folder from before a secret was added: the new ones are generated once, under a lock, and the
    file replaced whole."""
    with open(path.with_name(".secrets.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = json.loads(path.read_text())
        missing = [name for name in GENERATED_SECRETS if name not in stored]
        if missing:
            stored |= {name: _generate(name) for name in missing}
            fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secrets-")
            with os.fdopen(fd, "w") as handle:
                json.dump(stored, handle)
            os.replace(draft, path)
    return stored


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = "GOLIVE_" + "_".join(str(part) for part in item["loc"]).upper() if item["loc"] else ""
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus overrides), filling throwaway secrets outside staging/production."""
    try:
        settings = Settings(**overrides)
        if settings.env in STRICT_ENVIRONMENTS:
            return settings
        missing = {name for name in GENERATED_SECRETS if getattr(settings, name) is None}
        if not missing:
            return settings
        generated = _throwaway_secrets(settings.state_dir)
        return settings.model_copy(update={name: SecretStr(generated[name]) for name in missing})
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {_describe(exc)}") from None


@cache
def get_settings() -> Settings:
    return load_settings()
