"""The checklist's TLS and firewall checks (checks/tls.py, checks/websecurity.py, checks/firewall.py) against
the real lab: the nginx the tls and nginx roles configured on lb, the nftables rulesets the firewall role loaded
— each passing as converged, and each made to fail by a real change on a lab host (a port opened on db, a name
the certificate does not cover), put back afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checks import registry
from checks.context import Context
from checks.model import Result, Status
from foundation.environment import load_environment
from foundation.repository import REPO_ROOT
from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import converged_lab

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(900)]
DB = "198.18.0.20"
OPENED_PORT = 8100  # lab.yml: closed on db from the controller


@pytest.fixture(scope="module")
def lab() -> Iterator[None]:
    with converged_lab():
        yield


def run(name: str, **config: object) -> Result:
    ctx = Context(env=load_environment("lab"), repo=REPO_ROOT)
    ctx.config.update(config)
    return registry.load()[name](ctx, {})


@pytest.mark.parametrize("name", ["tls.certificate", "tls.working", "http.redirect_https", "firewall.ports"])
def test_checks_pass_against_the_converged_lab(lab, name: str) -> None:
    result = run(name)
    assert result.status == Status.PASS, f"{name}: {result.detail} ({result.command})"
    assert result.command  # the evidence says what was run


def test_certificate_check_fails_for_a_name_the_certificate_does_not_cover(lab) -> None:
    result = run("tls.certificate", tls_name="payments.example.org")
    assert result.status == Status.FAIL
    assert "does not verify for payments.example.org" in result.detail


def test_firewall_check_fails_when_a_port_is_opened_on_db(lab) -> None:
    """A listener on db plus a rule accepting it from the controller: the check must see it open and name it."""
    opened = (
        f"nft insert rule inet golive input ip saddr 198.18.0.1 tcp dport {OPENED_PORT} accept && "
        f"systemd-run --unit golive-test-listener --property=RuntimeMaxSec=300 "
        f"python3 -m http.server {OPENED_PORT} --bind {DB} && "
        f"for i in $(seq 50); do ss -ltn | grep -q ':{OPENED_PORT} ' && exit 0; sleep 0.1; done; exit 1"
    )
    try:
        ssh("db", opened)
        result = run("firewall.ports")
        assert result.status == Status.FAIL
        assert f"{DB}:{OPENED_PORT} is open (must be closed)" in result.detail
    finally:
        ssh("db", "systemctl stop golive-test-listener.service || true; nft -f /etc/nftables.conf")
    restored = run("firewall.ports")
    assert restored.status == Status.PASS, restored.detail
