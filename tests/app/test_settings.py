"""Settings: production refuses to start without what it needs and says which; elsewhere throwaway
secrets are generated once and shared by every process of the host."""

from __future__ import annotations

import stat

import pytest

from app.settings import GENERATED_SECRETS, SANDBOX_PASSKEY, STRICT_REQUIRED, SettingsError, load_settings

PRODUCTION = {
    "env": "production",
    "database_url": "postgresql://golive:pw@db:5432/golive",
    "daraja_consumer_key": "key",
    "daraja_consumer_secret": "secret",
    "daraja_passkey": "p" * 64,
    "daraja_shortcode": "600123",
    "callback_secret": "c" * 40,
    "public_base_url": "https://pay.example.com",
    "daraja_base_url": "https://api.safaricom.co.ke",
    "treasury_private_key": "0x" + "1f" * 32,
    "chain_rpc_url": "https://rpc.example.com/v1",
    "chain_id": 1,
    "usdt_token_address": "0xdAC17F958D2ee523a2206206994597C13D831ec7",
}


def test_production_with_everything_starts():
    settings = load_settings(**PRODUCTION)
    assert settings.serves_tls
    assert settings.party_b == settings.daraja_shortcode


@pytest.mark.parametrize("missing", STRICT_REQUIRED)
def test_production_names_each_missing_required_setting(missing, tmp_path):
    """Left out, a setting with a default (the chain's, the shortcode) is refused as one without is: its default
    suits only the simulators."""
    values = {**{k: v for k, v in PRODUCTION.items() if k != missing}, "state_dir": tmp_path}
    with pytest.raises(SettingsError, match=rf"required in production: GOLIVE_{missing.upper()}$"):
        load_settings(**values)
    assert not (tmp_path / "secrets.json").exists()  # nothing generated for production


@pytest.mark.parametrize("empty", ["database_url", "usdt_token_address", "callback_secret"])
def test_production_refuses_a_required_setting_given_empty(empty):
    with pytest.raises(SettingsError, match=f"GOLIVE_{empty.upper()}"):
        load_settings(**{**PRODUCTION, empty: ""})


def test_staging_needs_the_same_settings():
    with pytest.raises(SettingsError, match=r"required in staging: GOLIVE_CHAIN_ID$"):
        load_settings(**{**{k: v for k, v in PRODUCTION.items() if k != "chain_id"}, "env": "staging"})


def test_production_names_every_missing_setting_at_once():
    with pytest.raises(SettingsError) as caught:
        load_settings(env="production", public_base_url="https://pay.example.com",
                      daraja_base_url="https://api.safaricom.co.ke")  # fmt: skip
    for name in ("GOLIVE_DATABASE_URL", "GOLIVE_DARAJA_CONSUMER_KEY", "GOLIVE_CALLBACK_SECRET"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"public_base_url": "http://pay.example.com"}, "GOLIVE_PUBLIC_BASE_URL must be https"),
        ({"daraja_passkey": SANDBOX_PASSKEY}, "sandbox passkey"),
        ({"callback_secret": "short"}, "at least 32"),
        ({"public_base_url": "https://mpesa.example.com"}, "mpesa"),
        ({"daraja_shortcode": "12"}, "GOLIVE_DARAJA_SHORTCODE"),
        ({"daraja_account_reference": "ORDER-42"}, "GOLIVE_DARAJA_ACCOUNT_REFERENCE"),
        ({"daraja_transaction_desc": "A description that is too long"}, "GOLIVE_DARAJA_TRANSACTION_DESC"),
        ({"trusted_proxies": "10.0.0.0/8,not-an-ip"}, "not-an-ip"),
        ({"env": "prod"}, "GOLIVE_ENV"),
    ],
)
def test_malformed_settings_are_named(override, says):
    with pytest.raises(SettingsError, match=says):
        load_settings(**{**PRODUCTION, **override})


def test_environment_variables_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("GOLIVE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("GOLIVE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("GOLIVE_RATE_LIMIT_PER_MINUTE", "not-a-number")
    with pytest.raises(SettingsError, match="GOLIVE_RATE_LIMIT_PER_MINUTE"):
        load_settings()
    monkeypatch.setenv("GOLIVE_RATE_LIMIT_PER_MINUTE", "30")
    settings = load_settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.rate_limit_per_minute == 30


def test_throwaway_secrets_are_generated_once_and_shared(tmp_path):
    first = load_settings(env="local", state_dir=tmp_path)
    second = load_settings(env="local", state_dir=tmp_path)

    for name in GENERATED_SECRETS:
        value = getattr(first, name).get_secret_value()
        assert len(value) >= 32
        assert getattr(second, name).get_secret_value() == value
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


def test_secrets_never_show_in_reprs(tmp_path):
    settings = load_settings(**PRODUCTION)
    assert "secret" not in repr(settings.daraja_consumer_secret)
    assert "c" * 40 not in repr(settings)
    assert "c" * 40 in settings.secret_values()


@pytest.mark.parametrize("key", ["0x1234", "0x" + "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32])
def test_a_malformed_treasury_key_is_named_and_not_shown(key):
    with pytest.raises(SettingsError, match="GOLIVE_TREASURY_PRIVATE_KEY") as refused:
        load_settings(**{**PRODUCTION, "treasury_private_key": key})
    assert key not in str(refused.value)


def test_generated_treasury_key_is_a_usable_key_shared_by_the_host(tmp_path):
    first = load_settings(env="local", state_dir=tmp_path).treasury_private_key.get_secret_value()
    again = load_settings(env="local", state_dir=tmp_path).treasury_private_key.get_secret_value()
    assert first == again and first.startswith("0x") and len(first) == 66


def test_a_state_folder_from_before_the_treasury_key_gets_one_added(tmp_path):
    (tmp_path / "secrets.json").write_text(
        '{"daraja_consumer_key": "k", "daraja_consumer_secret": "s", "callback_secret": "c"}'
    )
    settings = load_settings(env="local", state_dir=tmp_path)
    assert settings.callback_secret.get_secret_value() == "c"
    assert settings.treasury_private_key.get_secret_value().startswith("0x")


def test_the_default_token_address_is_the_chain_simulators():
    import rlp  # noqa: PLC0415
    from eth_account import Account  # noqa: PLC0415
    from eth_utils import keccak, to_canonical_address, to_checksum_address  # noqa: PLC0415

    from simulators.chain.node import DEPLOYER_KEY  # noqa: PLC0415

    deployer = to_canonical_address(Account.from_key(DEPLOYER_KEY).address)
    token = to_checksum_address(keccak(rlp.encode([deployer, 0]))[12:])
    assert load_settings(env="test").token_address == token


# -- the Sentry DSN (a secret) --------------------------------------------------------------------------------

DSN = "https://0123456789abcdef0123456789abcdef@o42.ingest.sentry.io/4501"


def test_a_sentry_dsn_is_a_secret_for_the_redactor_and_never_in_reprs():
    settings = load_settings(**PRODUCTION, sentry_dsn=DSN)
    assert settings.sentry_dsn.get_secret_value() == DSN
    assert DSN not in repr(settings) and "0123456789abcdef" not in repr(settings)
    assert DSN in settings.secret_values()
    assert "0123456789abcdef0123456789abcdef" in settings.secret_values()  # the key alone too


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_sentry_dsn_means_no_error_tracking(empty, monkeypatch):
    monkeypatch.setenv("GOLIVE_SENTRY_DSN", empty)
    assert load_settings(**PRODUCTION).sentry_dsn is None


@pytest.mark.parametrize(
    "dsn",
    [
        "not-a-dsn-secretvalue",
        "https://o42.ingest.sentry.io/4501",  # no key
        "ftp://secretvalue@o42.ingest.sentry.io/4501",
        "https://secretvalue@o42.ingest.sentry.io/project",
        "https://secretvalue@o42.ingest.sentry.io:port/4501",
        "https://secretvalue@/4501",
    ],
)
def test_a_malformed_sentry_dsn_is_named_and_not_shown(dsn):
    with pytest.raises(SettingsError, match="GOLIVE_SENTRY_DSN: must be a Sentry DSN") as refused:
        load_settings(**PRODUCTION, sentry_dsn=dsn)
    assert "secretvalue" not in str(refused.value)
