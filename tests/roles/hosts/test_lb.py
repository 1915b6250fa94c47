"""The balancer: nginx up, TLS 1.2+ with a certificate valid for its names, HTTPS enforced, security
headers, and the drain script the release drives."""

from __future__ import annotations

import pytest

testinfra_hosts = ["ansible://lb"]

CA = "/usr/local/share/ca-certificates/golive-lab-ca.crt"


@pytest.fixture(scope="module")
def names(host):
    """The certificate's expected names: its DNS names from the vhost, the host's own address."""
    server_names = host.check_output("sed -n 's/^ *server_name \\(golive[^;]*\\);/\\1/p' /etc/nginx/conf.d/golive.conf")
    return server_names.split()


def test_nginx_is_running_enabled_and_its_configuration_valid(host):
    nginx = host.service("nginx")
    assert nginx.is_running and nginx.is_enabled
    assert host.run("nginx -t").rc == 0


def test_listens_on_80_and_443(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening


def test_private_key_is_root_only(host):
    keys = host.check_output("ls /etc/ssl/golive/private/").split()
    assert keys
    for key in keys:
        f = host.file(f"/etc/ssl/golive/private/{key}")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    assert host.file("/etc/ssl/golive/private").mode == 0o700


def test_certificate_is_valid_for_its_names(host, names):
    if not host.file(CA).exists:
        pytest.skip("no lab CA here: a public certificate is checked by its chain elsewhere")
    dns = [n for n in names if not n.replace(".", "").isdigit()]
    ips = [n for n in names if n.replace(".", "").isdigit()]
    for name in dns:
        out = host.run(
            f"openssl s_client -connect 127.0.0.1:443 -servername {name} -CAfile {CA} "
            f"-verify_return_error -verify_hostname {name} </dev/null"
        )
        assert out.rc == 0 and "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr
    for ip in ips:
        out = host.run(
            f"openssl s_client -connect 127.0.0.1:443 -CAfile {CA} -verify_return_error -verify_ip {ip} </dev/null"
        )
        assert out.rc == 0 and "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr


def test_tls_below_1_2_is_refused(host):
    assert host.run("openssl s_client -connect 127.0.0.1:443 -tls1_1 </dev/null").rc != 0
    assert host.run("openssl s_client -connect 127.0.0.1:443 -tls1_2 </dev/null").rc == 0
    assert host.run("openssl s_client -connect 127.0.0.1:443 -tls1_3 </dev/null").rc == 0


def test_http_redirects_to_https(host):
    head = host.check_output("curl -sS -o /dev/null -D - http://127.0.0.1/api/health")
    assert head.startswith("HTTP/1.1 301")
    assert "Location: https://" in head


def test_security_headers_even_on_errors(host):
    head = host.check_output("curl -sS -k -o /dev/null -D - https://127.0.0.1/api/health").lower()
    assert "strict-transport-security: max-age=" in head
    assert "x-content-type-options: nosniff" in head
    assert "x-frame-options: deny" in head
    assert "server: nginx\r" in head  # no version


def test_metrics_are_not_served_to_the_public(host):
    status = host.check_output("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1/metrics")
    assert status == "404"  # the edge's answer: without the rule it would be proxied (200, or 502 before a release)


def test_rate_limit_answers_429(host):
    statuses = host.check_output(
        "for i in $(seq 1 1500); do echo 'url = \"https://127.0.0.1/__ratelimit_probe\"'; done "
        "| curl -sk --parallel --parallel-max 50 -o /dev/null -w '%{http_code}\\n' -K -"
    ).split()
    assert "429" in statuses


def test_every_upstream_is_in_rotation_and_drain_is_reversible(host):
    status = host.check_output("golive-upstream status").splitlines()
    assert status and all(line.endswith(" up") for line in status), status
    first = status[0].split()[0]
    try:
        assert host.check_output(f"golive-upstream drain {first}") == f"{first} drained"
        assert host.check_output(f"golive-upstream drain {first}") == f"{first} drained (already)"
        assert " down;" in host.file(f"/etc/nginx/golive-upstreams.d/{first}.conf").content_string
    finally:
        assert host.check_output(f"golive-upstream undrain {first}") == f"{first} up"
    assert host.check_output(f"golive-upstream status {first}") == f"{first} up"


def test_drain_refuses_to_empty_the_pool(host):
    hosts = [line.split()[0] for line in host.check_output("golive-upstream status").splitlines()]
    try:
        for name in hosts[:-1]:
            host.check_output(f"golive-upstream drain {name}")
        last = host.run(f"golive-upstream drain {hosts[-1]}")
        assert last.rc == 3 and "last upstream" in last.stderr
    finally:
        for name in hosts:
            host.check_output(f"golive-upstream undrain {name}")
