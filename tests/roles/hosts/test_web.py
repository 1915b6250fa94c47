"""Web hosts: the service's user, layout, 0600 settings, hardened units enabled for the release to start."""

from __future__ import annotations

import json
import shlex
from urllib.parse import parse_qs, urlsplit

import pytest

testinfra_hosts = ["ansible://web"]

ROOT = "/srv/golive"
DEPLOY = "golive-deploy"  # playbooks/group_vars/all/main.yml: golive_deploy_user


def test_service_user_cannot_log_in(host):
    user = host.user("golive")
    assert user.exists
    assert user.shell == "/usr/sbin/nologin"


@pytest.mark.parametrize(
    ("path", "owner", "group", "mode"),
    [
        # the release's own (the deploy user's), read by the service; the settings root's
        (ROOT, DEPLOY, DEPLOY, 0o755),
        (f"{ROOT}/releases", DEPLOY, DEPLOY, 0o755),
        (f"{ROOT}/venvs", DEPLOY, DEPLOY, 0o755),
        (f"{ROOT}/artifacts", DEPLOY, DEPLOY, 0o750),
        (f"{ROOT}/shared", "root", "golive", 0o750),
        (f"{ROOT}/shared/state", "golive", "golive", 0o700),
    ],
)
def test_release_layout(host, path, owner, group, mode):
    f = host.file(path)
    assert f.is_directory
    assert (f.user, f.group, f.mode) == (owner, group, mode)


def test_the_release_helper_is_roots_and_knows_this_hosts_units(host):
    helper = host.file("/usr/local/sbin/golive-release")
    assert (helper.user, helper.group, helper.mode) == ("root", "root", 0o755)
    config = json.loads(host.file("/etc/golive-release.json").content_string)
    assert config == {"root": ROOT, "user": "golive", "units": ["app", "worker"]}
    # As the deploy user, through sudo: the settings are read without the deploy user being able to read the file
    assert host.run(f"runuser -u {DEPLOY} -- cat {ROOT}/shared/golive.env").rc != 0
    shown = host.run(f"runuser -u {DEPLOY} -- sudo -n /usr/local/sbin/golive-release settings --stat")
    assert shown.rc == 0 and shown.stdout.split() == ["600", "root"], shown.stderr
    refused = host.run(f"runuser -u {DEPLOY} -- sudo -n /usr/local/sbin/golive-release restart ssh")
    assert refused.rc == 2 and "golive-ssh.service is not a unit of this host" in refused.stderr


def test_settings_file_is_root_only_and_complete(host):
    env = host.file(f"{ROOT}/shared/golive.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    names = {line.split("=", 1)[0] for line in env.content_string.splitlines() if "=" in line}
    for name in ("GOLIVE_ENV", "GOLIVE_DATABASE_URL", "GOLIVE_CALLBACK_SECRET", "GOLIVE_PUBLIC_BASE_URL"):
        assert name in names


def test_the_database_is_verified_by_its_address(host, addresses):
    """sslmode=verify-full, as production verifies RDS: the CA bundle the service's URL names proves the certificate
    the db host serves for the address the URL connects to, and only for that name."""
    env = host.file(f"{ROOT}/shared/golive.env").content_string  # holds secrets: only derived facts are asserted
    line = next(line for line in env.splitlines() if line.startswith("GOLIVE_DATABASE_URL="))
    query = parse_qs(urlsplit(line.split("=", 1)[1].strip("'")).query)
    verify_full, bundle = query.get("sslmode") == ["verify-full"], query.get("sslrootcert", [""])[0]
    assert verify_full and bundle
    db = addresses("db")[0]
    probe = f"openssl s_client -starttls postgres -connect {db}:5432 -CAfile {bundle} -verify_return_error -brief"
    assert host.run(f"{probe} -verify_ip {db} </dev/null").rc == 0
    assert host.run(f"{probe} -verify_hostname db.elsewhere.example </dev/null").rc != 0


# A PostgreSQL StartupMessage (protocol 3.0) sent in the clear, without asking for TLS first; prints the answer.
PLAIN_STARTUP = """
import socket, struct, sys
s = socket.create_connection((sys.argv[1], 5432), timeout=5)
params = b"user\\0golive\\0database\\0golive\\0\\0"
s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
print(s.recv(4096).decode("latin-1"))
"""


def test_the_database_refuses_a_connection_without_tls(host, addresses):
    answer = host.check_output(f"python3 -c {shlex.quote(PLAIN_STARTUP)} {addresses('db')[0]}")
    assert answer.startswith("E") and "no encryption" in answer, answer  # an ErrorResponse: pg_hba's hostssl only


def test_service_unit_is_enabled_and_hardened(host):
    unit = host.service("golive-app")
    assert unit.is_enabled
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show golive-app.service -p User -p NoNewPrivileges -p ProtectSystem -p PrivateTmp "
            "-p ProtectHome -p ExecStart -p WorkingDirectory -p StandardOutput"
        ).splitlines()
    )
    assert props["User"] == "golive"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["StandardOutput"] == "journal"
    assert props["WorkingDirectory"] == f"{ROOT}/current/source"
    assert "-m uvicorn --factory app.main:create_app --host 0.0.0.0 --port 8000" in props["ExecStart"]


def test_service_runs_when_a_release_is_deployed(host):
    if not host.file(f"{ROOT}/current").exists:
        pytest.skip("no release deployed yet: the unit waits (ConditionPathExists) for `fab release --env lab`")
    assert host.service("golive-app").is_running
    assert host.socket("tcp://0.0.0.0:8000").is_listening


def test_worker_unit_is_installed(host):
    assert host.file("/etc/systemd/system/golive-worker.service").exists
