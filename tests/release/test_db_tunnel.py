"""`fab db.tunnel`: the route and the ssh command as data, then the real thing — the fab CLI opening `ssh -N -L` through
a real sshd on loopback to a real PostgreSQL on a loopback TCP port (as RDS is reached through a web host), and each
way it refuses, named."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import yaml

from app.local import embedded_postgres
from foundation.environment import Environment, load_environment, parse_environment
from foundation.repository import REPO_ROOT
from foundation.ssh_access import SshAccess
from foundation.stack_outputs.schema import SCHEMA_VERSION
from foundation.state import StateLayout
from release import tunnel_commands
from release.tunnel_commands import Route, TunnelFailed
from tests.support import sshd, tcp_postgres
from tests.support.processes import free_port
from tests.support.sshd import Sshd
from tests.support.tcp_postgres import TcpPostgres

SSM = "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"
RELAY = REPO_ROOT / "tests" / "support" / "ssh_relay.py"
SECRET = "s3cret-not-to-print"  # a test's throwaway password


def outputs(database: dict | None, *, user: str = "admin", proxy: str | None = None, method: str = "ssh") -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "hosts": {"web": [{"name": "web-a", "instance_id": "target", "private_ip": "127.0.0.1"}]},
        "access": {"method": method, "user": "admin", "deploy_user": user, "ssh_proxy_command": proxy},
        "url": "https://golive.example",
        **({"database": database} if database is not None else {}),
    }


def describe(folder: Path, name: str, *, outputs_of: dict | None, ssh_config: Path | None, **extra) -> Path:
    """An environment as staging's is described (database: url, hosts from stack outputs), its files in `folder`."""
    state = StateLayout(folder / "state")
    if outputs_of is not None:
        state.environment(name).mkdir(parents=True, exist_ok=True)
        state.stack_outputs(name).write_text(json.dumps(outputs_of))
    raw = {
        "name": name,
        "transport": "ssh",
        "service_manager": "systemd",
        "root": "/srv/golive",
        "stack_outputs": name,
        "instances": [{"name": "app", "port": 8000}],
        "database": "url",
        **({"ssh_config": str(ssh_config)} if ssh_config else {}),
        **extra,
    }
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


# --- the route and the command, as data ---------------------------------------------------------------------------


def test_staging_goes_through_its_first_web_host_to_the_endpoint_in_its_outputs(tmp_path):
    database = {"host": "golive.abc.eu-west-1.rds.amazonaws.com", "port": 5432, "name": "golive", "user": "app"}
    path = describe(tmp_path, "stg", outputs_of=outputs(database, proxy=SSM, method="ssm"), ssh_config=None)
    state = StateLayout(tmp_path / "state")
    env = load_environment(str(path), state=state)
    to = tunnel_commands.route(env)
    assert to == Route("stg", "target", database["host"], 5432, "golive", "app", "require")
    command = tunnel_commands.ssh_command(SshAccess.of(env, state), to, 15432)
    assert command[:3] == ["ssh", "-l", "admin"]
    assert f"ProxyCommand={SSM}" in command  # ssh substitutes %h %p itself
    assert "StrictHostKeyChecking=yes" in command and "BatchMode=yes" in command
    assert "ExitOnForwardFailure=yes" in command and "ControlPath=none" in command  # stopping its PID closes it
    known = next(o for o in command if o.startswith("UserKnownHostsFile="))
    assert known.split("=", 1)[1].split()[0] == str(state.known_hosts("stg"))  # the environment's pinned keys
    assert command[-3:] == ["-L", f"127.0.0.1:15432:{database['host']}:5432", "target"]


def lab(ssh_config: Path, **extra) -> Environment:
    """The lab as its description has it: a db host reached by its ssh_config, the database through a tunnel."""
    return parse_environment(
        {
            "name": "lab",
            "transport": "ssh",
            "ssh_config": str(ssh_config),
            "service_manager": "systemd",
            "root": "/srv/golive",
            "hosts": {"web": ["web1"], "db": ["db"]},
            "instances": [{"name": "app", "port": 8000}],
            "entry_url": "https://198.18.0.10",
            "database": "tunnel",
            **extra,
        }
    )


def test_the_lab_goes_to_its_db_hosts_own_loopback_with_its_ssh_configs_known_hosts(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(f"Host db\n    HostName 198.18.0.20\n    UserKnownHostsFile {tmp_path / 'lab_known'}\n")
    env = lab(config)
    to = tunnel_commands.route(env)
    assert (to.via, to.host, to.port, to.database, to.user) == ("db", "127.0.0.1", 5432, "golive", "golive")
    command = tunnel_commands.ssh_command(SshAccess.of(env), to, 40123)
    assert command[1:3] == ["-F", str(config)]
    assert f"UserKnownHostsFile={tmp_path / 'lab_known'} /etc/ssh/ssh_known_hosts" in command  # the config's wins
    assert command[-3:] == ["-L", "127.0.0.1:40123:127.0.0.1:5432", "db"]


def test_through_the_labs_tunnel_the_db_hosts_certificate_is_verified_by_its_address(tmp_path):
    """The lab's CA issues the db host's certificate for its address: the client connects to the forwarded port
    (hostaddr) and checks the certificate against the address (host) with that CA, as the web hosts do."""
    config = tmp_path / "ssh_config"
    config.write_text("Host db\n    HostName 198.18.0.20\n")
    ca = tmp_path / "ca.crt"
    env = lab(config, checks={"tls_ca_file": str(ca)})
    to = tunnel_commands.route(env)
    assert (to.sslmode, to.verify_host, to.ca_file) == ("verify-full", "198.18.0.20", str(ca))
    settings = tunnel_commands.libpq_environment(to, 40123)
    assert settings["PGHOST"] == "198.18.0.20" and settings["PGHOSTADDR"] == "127.0.0.1"
    assert settings["PGSSLMODE"] == "verify-full" and settings["PGSSLROOTCERT"] == str(ca)
    assert "hostaddr=127.0.0.1" in tunnel_commands.psql_line(settings)
    assert tunnel_commands.url(to, 40123, "pw") == (
        f"postgresql://golive:pw@198.18.0.20:40123/golive?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}"
    )


def test_outputs_without_a_database_endpoint_are_refused_naming_it(tmp_path):
    path = describe(tmp_path, "stg", outputs_of=outputs(None), ssh_config=None)
    env = load_environment(str(path), state=StateLayout(tmp_path / "state"))
    with pytest.raises(TunnelFailed, match=r"^environment stg: its stack outputs name no database endpoint .*"):
        tunnel_commands.route(env)


def test_the_connection_is_said_without_the_password(tmp_path):
    to = Route("stg", "target", "db.internal", 5432, "golive", "app", "require")
    settings = tunnel_commands.libpq_environment(to, 15432)
    assert settings == {
        "PGHOST": "127.0.0.1",
        "PGPORT": "15432",
        "PGDATABASE": "golive",
        "PGUSER": "app",
        "PGSSLMODE": "require",
    }
    assert (
        tunnel_commands.psql_line(settings) == 'psql "host=127.0.0.1 port=15432 dbname=golive user=app sslmode=require"'
    )
    assert tunnel_commands.url(to, 15432) == "postgresql://app@127.0.0.1:15432/golive?sslmode=require"
    assert tunnel_commands.url(to, 1, "p@ss/w") == "postgresql://app:p%40ss%2Fw@127.0.0.1:1/golive?sslmode=require"


# --- the real thing: the fab CLI, a real sshd, a real PostgreSQL -------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Sshd:
    running = sshd.start(tmp_path_factory.mktemp("sshd"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def postgres() -> TcpPostgres:
    folder = Path(tempfile.mkdtemp(prefix="golive-tunnel-pg-"))  # outside pytest's tree, as tests/conftest.py's
    running = tcp_postgres.start(folder / "data")
    yield running
    running.stop()
    shutil.rmtree(folder, ignore_errors=True)


def endpoint(postgres: TcpPostgres) -> dict:
    """The outputs' `database`, as RDS' would be: reachable from the host SSH reaches (here the same machine)."""
    return {
        "host": "127.0.0.1",
        "port": postgres.port,
        "name": postgres.database,
        "user": postgres.user,
        "sslmode": "disable",
    }


def staging_like(tmp_path: Path, server: Sshd, postgres: TcpPostgres, **config) -> Path:
    return describe(
        tmp_path,
        "tunnelled",
        outputs_of=outputs(endpoint(postgres), user=server.user),
        ssh_config=server.client_config(tmp_path / "ssh", **config),
    )


def fab(tmp_path: Path, *args: str, extra_env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "GOLIVE_RELEASE_STATE": str(tmp_path / "state"),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **(extra_env or {}),
    }
    if "GOLIVE_DATABASE_URL" not in (extra_env or {}):
        env.pop("GOLIVE_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "fabric", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finished(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=120)  # a hang guard
    return process.returncode, output


def closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


SELECT_ONE = "print('answer', psycopg.connect('').execute('SELECT 1').fetchone()[0])"  # libpq's PG* only
PROBE = (  # the password only as its digest: the command line is printed, and must not give it away
    f'{sys.executable} -c "import hashlib, os, psycopg; '
    f"{SELECT_ONE}; "
    "print('password', hashlib.sha256(os.environ.get('PGPASSWORD', '').encode()).hexdigest() == "
    f"'{hashlib.sha256(SECRET.encode()).hexdigest()}'); raise SystemExit(7)\""
)


def test_a_command_reaches_postgresql_through_the_tunnel_and_its_code_is_the_tasks(tmp_path, server, postgres):
    described = staging_like(tmp_path, server, postgres)
    given = f"postgresql://{postgres.user}:{SECRET}@127.0.0.1:1/{postgres.database}"
    process = fab(tmp_path, "db.tunnel", "-e", str(described), "-c", PROBE, extra_env={"GOLIVE_DATABASE_URL": given})
    code, output = finished(process)
    assert code == 7, output
    assert "answer 1" in output  # SELECT 1 from PostgreSQL, through sshd, with libpq's PG* only
    assert "password True" in output  # the child had it in PGPASSWORD
    assert SECRET not in output  # and nothing printed it
    port = int(output.split("tunnel open: 127.0.0.1:")[1].split()[0])
    assert closed(port)  # the tunnel went with the command


def held(tmp_path: Path, server: Sshd, postgres: TcpPostgres, port: int) -> tuple[subprocess.Popen, str]:
    """`fab db.tunnel` for a person, and what it said until the tunnel was open (or it ended)."""
    process = fab(tmp_path, "db.tunnel", "--env", str(staging_like(tmp_path, server, postgres)), "--port", str(port))
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C closes the tunnel" in line:
            break
    return process, "".join(lines)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_person_s_tunnel_holds_until_stopped_and_then_closes(tmp_path, server, postgres, stop):
    port = free_port()
    process, said = held(tmp_path, server, postgres, port)
    assert f"tunnel open: 127.0.0.1:{port} → 127.0.0.1:{postgres.port}" in said, said
    assert f'psql "host=127.0.0.1 port={port} dbname=postgres user=postgres sslmode=disable"' in said
    with psycopg.connect(host="127.0.0.1", port=port, user=postgres.user, dbname=postgres.database) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    process.send_signal(stop)
    code, rest = finished(process)
    assert code == 0, said + rest
    assert "tunnel closed" in rest
    assert closed(port)


def test_a_tunnel_whose_ssh_ends_says_so_and_exits_1(tmp_path, server, postgres):
    port = free_port()
    process, said = held(tmp_path, server, postgres, port)
    ssh = int(said.split("(ssh PID ")[1].split(")")[0])
    os.kill(ssh, signal.SIGKILL)  # gone without a word, as when its machine's session is cut
    code, rest = finished(process)
    assert code == 1, said + rest
    assert "ssh to target exited -9; the tunnel is closed: (nothing on stderr)" in rest


def test_a_port_in_use_is_refused_naming_it(tmp_path, server, postgres):
    described = staging_like(tmp_path, server, postgres)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described), "--port", str(port)))
    assert code == 2, output
    assert f"127.0.0.1:{port} is in use" in output and "--port" in output


def test_an_sshd_that_is_not_there_is_named_with_what_ssh_said(tmp_path, server, postgres):
    described = staging_like(tmp_path, server, postgres, port=free_port())
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described), "--command", "true"))
    assert code == 2, output
    assert "ssh to target exited 255 before the tunnel opened" in output
    assert "Connection refused" in output


def test_an_unknown_host_key_is_refused(tmp_path, server, postgres):
    described = staging_like(tmp_path, server, postgres, known_hosts="")
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described), "--command", "true"))
    assert code == 2, output
    assert "ssh to target exited 255" in output and "Host key verification failed" in output


def test_the_proxy_command_of_the_outputs_carries_the_session(tmp_path, server, postgres):
    """As on AWS: no address for the instance, only a proxy command given its id (%h); the host key is the one pinned
    for that id in the environment's own known_hosts (its ssh_config names only the key)."""
    record = tmp_path / "relay-saw"
    proxy = f"{sys.executable} {RELAY} 127.0.0.1 {server.port} {record} %h %p %r"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host target\n    IdentityFile {server.client_key}\n")
    given = outputs(endpoint(postgres), user=server.user, proxy=proxy, method="ssm")
    described = describe(tmp_path, "viaproxy", outputs_of=given, ssh_config=config)
    (tmp_path / "state" / "viaproxy" / "known_hosts").write_text(server.known_hosts_line(name="target"))
    probe = f'{sys.executable} -c "import psycopg; {SELECT_ONE}"'
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described), "--command", probe))
    assert code == 0, output
    assert "answer 1" in output
    assert record.read_text() == f"target 22 {server.user}"


def test_missing_stack_outputs_are_named_with_how_to_write_them(tmp_path):
    described = describe(tmp_path, "nooutputs", outputs_of=None, ssh_config=None)
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described)))
    assert code == 2, output
    assert f"no stack outputs at {tmp_path / 'state' / 'nooutputs' / 'stack-outputs.json'}" in output
    assert "fab infra.outputs --env nooutputs" in output


def test_outputs_without_a_database_and_an_unknown_environment_are_refused(tmp_path):
    described = describe(tmp_path, "nodb", outputs_of=outputs(None), ssh_config=None)
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described)))
    assert code == 2 and "name no database endpoint" in output, output
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", "nosuchenv"))
    assert code == 2 and "unknown environment 'nosuchenv'" in output, output


def test_a_proxy_command_that_is_not_installed_is_named(tmp_path):
    database = {"host": "db.internal", "port": 5432}
    proxy = "golive-no-such-session-tool --target %h"
    described = describe(tmp_path, "noproxy", outputs_of=outputs(database, proxy=proxy, method="ssm"), ssh_config=None)
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described)))
    assert code == 2, output
    assert "the proxy command's `golive-no-such-session-tool` is not on PATH" in output


def local_like(tmp_path: Path, root: Path) -> Path:
    described = tmp_path / "loc.yml"
    local = yaml.safe_load((REPO_ROOT / "release" / "environments" / "local.yml").read_text())
    described.write_text(yaml.safe_dump({**local, "name": "loc", "root": str(root)}))
    return described


def test_local_opens_nothing_and_says_so_when_its_database_is_down(tmp_path):
    code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(local_like(tmp_path, tmp_path / "root"))))
    assert code == 2, output
    assert "the local database is not running; `fab local.up` starts it" in output


def test_local_runs_the_command_against_its_embedded_postgresql_directly(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="golive-tunnel-local-"))  # a short path: the server's socket is in it
    embedded_postgres.start(root / "pg", keep_running=True)  # as `fab local.up` leaves it
    try:
        described = local_like(tmp_path, root)
        code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described)))
        assert code == 0, output
        assert "no tunnel needed — the embedded PostgreSQL is on this machine" in output
        assert "dbname=golive user=postgres" in output and "password" not in output
        probe = f'{sys.executable} -c "import psycopg; {SELECT_ONE}"'
        code, output = finished(fab(tmp_path, "db.tunnel", "--env", str(described), "--command", probe))
        assert code == 0, output
        assert "answer 1" in output and "tunnel open" not in output
    finally:
        embedded_postgres.stop(root / "pg")
        shutil.rmtree(root, ignore_errors=True)
