"""The lab's partners host: the Daraja and chain simulators as systemd services."""

from __future__ import annotations

import json

testinfra_hosts = ["ansible://partners"]


def test_simulators_are_running_and_enabled(host):
    for unit in ("golive-daraja", "golive-chain"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit


def test_daraja_answers(host):
    assert host.socket("tcp://0.0.0.0:8100").is_listening
    assert host.run("curl -fsS http://127.0.0.1:8100/__sim__/health").rc == 0


def test_chain_answers_json_rpc(host):
    assert host.socket("tcp://0.0.0.0:8545").is_listening
    body = host.check_output(
        "curl -fsS -H 'content-type: application/json' "
        '-d \'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}\' http://127.0.0.1:8545/'
    )
    assert json.loads(body)["result"] == hex(31337)


def test_credentials_are_root_only(host):
    f = host.file("/etc/golive-partners-daraja.env")
    assert (f.user, f.mode) == ("root", 0o600)
