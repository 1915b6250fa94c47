"""Settings: production refuses to start without what it needs and says which; elsewhere throwaway
secrets are generated once and shared by every process of the host."""

from __future__ import annotations

import stat

import pytest

from app.settings import GENERATED_SECRETS, SANDBOX_PASSKEY, SettingsError, load_settings

PRODUCTION = {
    "env": "production",
    "database_url": "postgresql://golive:pw@db:5432/golive",
    "daraja_consumer_key": "key",
    "daraja_consumer_secret": "secret",
    "daraja_passkey": "p" * 64,
    "callback_secret": "c" * 40,
    "public_base_url": "https://pay.example.com",
    "daraja_base_url": "https://api.safaricom.co.ke",
}


def test_production_with_everything_starts():
    settings = load_settings(**PRODUCTION)
    assert settings.serves_tls
    assert settings.party_b == settings.daraja_shortcode


@pytest.mark.parametrize(
    "missing", ["database_url", "daraja_consumer_key", "daraja_consumer_secret", "callback_secret"]
)
def test_production_names_each_missing_secret(missing, tmp_path):
    values = {**PRODUCTION, missing: None, "state_dir": tmp_path}
    with pytest.raises(SettingsError, match=f"GOLIVE_{missing.upper()}"):
        load_settings(**values)
    assert not (tmp_path / "secrets.json").exists()  # nothing generated for production


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
