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


def test_callbacks_reach_the_balancer_over_verified_tls(host, addresses):
    """The simulator posts callbacks to the public URL (the balancer, https): its CA bundle must trust it."""
    lb = addresses("lb")[0]
    status = host.check_output(
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt /opt/golive-partners/venv/bin/python -c "
        "'import httpx, sys; print(httpx.get(sys.argv[1], timeout=5).status_code)' https://%s/api/health",
        lb,
    )
    assert status in ("200", "502", "503")  # verified TLS; whether a release answers behind it is not the point
