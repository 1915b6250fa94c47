"""The command line: --help, bad options (exit 2 with a message), where the treasury key comes from (never
printed), start options visible in /__chain__/info; and the committed token artifact matching a fresh compile."""

import os
import stat
import subprocess

import httpx
import pytest
from chain_harness import TREASURY_KEY, chain_command, chain_env, run_chain
from eth_account import Account

from foundation.repository import REPO_ROOT
from simulators.chain import token
from simulators.chain.compile import compile_token, render

OPTIONS = (
    "--host",
    "--port",
    "--chain-id",
    "--block-time",
    "--no-auto-mine",
    "--treasury-key-file",
    "--treasury-usdt",
    "--treasury-native",
    "--token-name",
    "--token-symbol",
    "--access-log",
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        chain_command(*args),
        check=False,
        cwd=REPO_ROOT,
        env=env if env is not None else chain_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_explains_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout
    assert "GOLIVE_TREASURY_PRIVATE_KEY" in result.stdout
    assert "0600" in result.stdout


@pytest.mark.parametrize(
    ("args", "env_overrides", "named"),
    [
        (("--port", "http"), {}, "--port"),
        (("--port", "70000"), {}, "--port"),
        (("--block-time", "-1"), {}, "--block-time"),
        (("--chain-id", "0"), {}, "--chain-id"),
        (("--treasury-usdt", "lots"), {}, "--treasury-usdt"),
        (("--treasury-native", "0.0000000000000000001"), {}, "--treasury-native"),
        (("--surprise",), {}, "--surprise"),
        ((), {"GOLIVE_TREASURY_PRIVATE_KEY": "0x1234"}, "GOLIVE_TREASURY_PRIVATE_KEY"),
        (("--treasury-key-file", "/nonexistent-dir/key"), {"GOLIVE_TREASURY_PRIVATE_KEY": None}, "/nonexistent-dir"),
        (("--treasury-key-file", "/tmp/k"), {}, "not both"),
    ],
    ids=[
        "port-word",
        "port-range",
        "block-time",
        "chain-id",
        "usdt",
        "native-decimals",
        "unknown",
        "bad-key",
        "dir",
        "both",
    ],
)
def test_bad_options_exit_2_naming_the_problem(args, env_overrides, named):
    result = run_cli(*args, env=chain_env(**env_overrides))
    assert result.returncode == 2
    assert named in result.stderr
    assert "1234" not in result.stderr  # a key given (even a bad one) is never echoed


def test_key_file_readable_by_others_is_refused(tmp_path):
    key_file = tmp_path / "treasury.key"
    key_file.write_text(TREASURY_KEY)
    key_file.chmod(0o644)
    result = run_cli("--treasury-key-file", str(key_file), env=chain_env(GOLIVE_TREASURY_PRIVATE_KEY=None))
    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert TREASURY_KEY[2:] not in result.stderr


@pytest.mark.slow
def test_generated_key_file_is_0600_reused_and_never_printed(tmp_path):
    key_file = tmp_path / "treasury.key"
    env = chain_env(GOLIVE_TREASURY_PRIVATE_KEY=None)
    args = ("--treasury-key-file", str(key_file), "--chain-id", "1337", "--no-auto-mine", "--treasury-usdt", "5.5")
    with run_chain(*args, env=env) as running:
        info = httpx.get(f"{running.url}/__chain__/info", timeout=10).json()
        log = running.log()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    assert info["treasury"]["address"] == Account.from_key(key).address
    assert "written to" in info["treasury"]["key"]
    assert info["chain_id"] == 1337 and info["mining"] == {"auto": False, "block_time": 0}
    assert info["treasury"]["address"] in log and info["token"]["address"] in log
    assert key.removeprefix("0x") not in log and key.removeprefix("0x") not in str(info)

    with run_chain("--treasury-key-file", str(key_file), env=env) as running:
        again = httpx.get(f"{running.url}/__chain__/info", timeout=10).json()
        answer = httpx.post(
            running.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [_balance_call(again), "latest"]},
            timeout=10,
        ).json()
    assert again["treasury"]["address"] == info["treasury"]["address"]
    assert "read from" in again["treasury"]["key"]
    assert int(answer["result"], 16) == 1_000_000 * 10**6  # the default treasury balance


def _balance_call(info):
    selector = "70a08231"  # balanceOf(address)
    data = "0x" + selector + info["treasury"]["address"][2:].lower().rjust(64, "0")
    return {"to": info["token"]["address"], "data": data}


def test_committed_artifact_matches_a_fresh_compilation():
    pytest.importorskip("vyper", reason="vyper (the 'chain' extra) is not installed")
    assert token.TOKEN_ARTIFACT.read_text() == render(compile_token()), (
        "contracts/TetherLikeToken.json is stale: run python -m simulators.chain.compile"
    )
