"""The command line: required credentials, option checks, env fallbacks, callback source, https-only."""

import subprocess

import pytest
from daraja_harness import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    DarajaClient,
    assert_daraja_error,
    run_simulator,
    simulator_command,
    simulator_env,
)

from foundation.repository import REPO_ROOT

OPTIONS = (
    "--host",
    "--port",
    "--consumer-key",
    "--consumer-secret",
    "--passkey",
    "--shortcode",
    "--callback-delay",
    "--callback-source",
    "--token-ttl",
    "--require-https-callback",
    "--access-log",
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        simulator_command(*args),
        check=False,
        cwd=REPO_ROOT,
        env=env if env is not None else simulator_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_help_explains_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout
    assert "GOLIVE_DARAJA_CONSUMER_KEY" in result.stdout
    assert "GOLIVE_DARAJA_PASSKEY" in result.stdout


@pytest.mark.parametrize(
    ("env_overrides", "args", "named", "not_named"),
    [
        (
            {"GOLIVE_DARAJA_CONSUMER_KEY": None, "GOLIVE_DARAJA_CONSUMER_SECRET": None},
            (),
            ["--consumer-key", "GOLIVE_DARAJA_CONSUMER_KEY", "--consumer-secret"],
            [],
        ),
        ({"GOLIVE_DARAJA_CONSUMER_SECRET": None}, (), ["--consumer-secret"], ["--consumer-key"]),
        ({"GOLIVE_DARAJA_CONSUMER_KEY": ""}, (), ["--consumer-key"], ["--consumer-secret"]),
        (
            {"GOLIVE_DARAJA_CONSUMER_KEY": None, "GOLIVE_DARAJA_CONSUMER_SECRET": None},
            ("--consumer-key", "flag-key"),
            ["--consumer-secret"],
            ["--consumer-key"],
        ),
    ],
    ids=["both", "secret", "empty-key", "key-by-flag"],
)
def test_missing_credentials_exit_2_naming_them(env_overrides, args, named, not_named):
    result = run_cli("--port", "1", *args, env=simulator_env(**env_overrides))
    assert result.returncode == 2
    for name in named:
        assert name in result.stderr
    for name in not_named:
        assert f"missing {name}" not in result.stderr
        assert f"and {name}" not in result.stderr
    assert CONSUMER_KEY not in result.stderr + result.stdout
    assert CONSUMER_SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--shortcode", "1234"),
        ("--callback-source", "not-an-address"),
        ("--callback-delay", "-1"),
        ("--token-ttl", "0"),
        ("--port", "70000"),
        ("--port", "eighty"),
    ],
    ids=repr,
)
def test_bad_option_values_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert args[0] in result.stderr


def test_bad_shortcode_from_env_exits_2():
    result = run_cli(env=simulator_env(GOLIVE_DARAJA_SHORTCODE="12"))
    assert result.returncode == 2
    assert "GOLIVE_DARAJA_SHORTCODE" in result.stderr


def test_env_passkey_and_shortcode_and_callback_source(receiver):
    env = simulator_env(GOLIVE_DARAJA_SHORTCODE="600123", GOLIVE_DARAJA_PASSKEY="lab-passkey")
    with run_simulator("--callback-delay", "0.05", "--callback-source", "127.0.0.2", env=env) as simulator:
        sandbox_client = DarajaClient(simulator.base_url)
        client = DarajaClient(simulator.base_url, shortcode="600123", passkey="lab-passkey")
        try:
            response = sandbox_client.push()
            assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")
            url = receiver.new_url()
            client.accepted_push(callback_url=url)
            [callback] = receiver.wait_for(url)
            assert callback.peer == "127.0.0.2"
            assert callback.headers["Businessshortcode"] == "600123"
            log = simulator.log()
            assert "lab-passkey" not in log
            assert CONSUMER_KEY not in log
            assert CONSUMER_SECRET not in log
        finally:
            sandbox_client.close()
            client.close()


def test_https_only_callbacks_with_credentials_by_flag_and_access_log():
    env = simulator_env(GOLIVE_DARAJA_CONSUMER_KEY=None, GOLIVE_DARAJA_CONSUMER_SECRET=None)
    args = ("--consumer-key", CONSUMER_KEY, "--consumer-secret", CONSUMER_SECRET, "--token-ttl", "60")
    with run_simulator(*args, "--require-https-callback", "--access-log", env=env) as simulator:
        client = DarajaClient(simulator.base_url)
        try:
            assert client.generate_token().json()["expires_in"] == "60"
            response = client.push(callback_url="http://pay.example.com/cb")
            assert_daraja_error(response, 400, "400.002.02", "Bad Request - Invalid CallBackURL")
            assert client.accepted_push(callback_url="https://pay.example.com/cb")["ResponseCode"] == "0"
            assert "/mpesa/stkpush/v1/processrequest" in simulator.log()
        finally:
            client.close()


def test_quiet_by_default(daraja_simulator):
    client = DarajaClient(daraja_simulator.base_url)
    client.token()
    client.close()
    assert "/oauth/v1/generate" not in daraja_simulator.log()
