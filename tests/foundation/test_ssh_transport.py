"""The release's SSH (foundation.transport.SshTransport) against a real sshd on loopback: reached as an environment's
access says (its ssh_config, or the stack outputs' user and proxy command), host keys checked on every path, and
each way it can fail told in one line naming the host and the fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from foundation.environment import parse_environment
from foundation.fleet import Fleet
from foundation.ssh_access import SshAccess, expand_proxy_command
from foundation.stack_outputs.schema import SCHEMA_VERSION
from foundation.state import StateLayout
from foundation.transport import HostKeyRefused, HostUnreachable, LoginRefused, ProxyFailed, SshTransport
from tests.support import sshd
from tests.support.processes import free_port
from tests.support.sshd import Sshd

RELAY = Path(__file__).resolve().parents[1] / "support" / "ssh_relay.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Sshd:
    running = sshd.start(tmp_path_factory.mktemp("sshd"))
    yield running
    running.stop()


def transport(config: Path, **access: str) -> SshTransport:
    return SshTransport("target", SshAccess(ssh_config=config, **access), connect_timeout=5)


def relay(server: Sshd, record: Path) -> str:
    """A proxy command to the server whatever %h and %p say (as an SSM session reaches an instance by its id)."""
    return f"{sys.executable} {RELAY} 127.0.0.1 {server.port} {record} %h %p %r"


def test_a_pinned_key_connects_and_runs_a_command(server: Sshd, tmp_path: Path) -> None:
    ssh = transport(server.client_config(tmp_path))
    result = ssh.run("echo ran as $(id -un)")
    assert result.output.strip() == f"ran as {server.user}"
    assert ssh.run("exit 3", check=False).code == 3
    ssh.close()


def test_an_unknown_host_key_is_refused_naming_the_host_and_the_fix(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path, known_hosts="")
    with pytest.raises(HostKeyRefused) as refused:
        transport(config).run("touch /tmp/golive-should-not-exist")
    message = str(refused.value)
    assert message.startswith("target: unknown host key (ssh-ed25519 ")
    assert f"ssh-keyscan -p {server.port} 127.0.0.1 >> {tmp_path / 'known_hosts'}" in message
    assert "fab lab.up" in message and "\n" not in message


def test_a_changed_host_key_is_refused(server: Sshd, tmp_path: Path) -> None:
    other = sshd.keygen(tmp_path / "other_host_key", "someone-else")
    config = server.client_config(tmp_path / "c", known_hosts=server.known_hosts_line(key=other))
    with pytest.raises(HostKeyRefused, match=r"^target: host key CHANGED for 127\.0\.0\.1:\d+ .*ssh-keygen -R"):
        transport(config).run("true")


def test_a_key_for_another_host_name_does_not_vouch_for_this_one(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path, known_hosts=server.known_hosts_line(name="127.0.0.1"))  # port 22's entry
    with pytest.raises(HostKeyRefused, match="unknown host key"):
        transport(config).run("true")


def test_a_missing_key_file_is_named(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path, key=tmp_path / "no-such-key")
    with pytest.raises(LoginRefused, match=rf"^target: no SSH key at {tmp_path / 'no-such-key'} \(IdentityFile in "):
        transport(config).run("true")


def test_a_refused_login_names_the_user_and_where_it_comes_from(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path)
    with pytest.raises(
        LoginRefused, match=r"^target: login as golive-nobody refused at 127\.0\.0\.1:\d+; .*access\.user"
    ):
        transport(config, user="golive-nobody").run("true")


def test_a_key_the_host_does_not_authorize_is_a_refused_login(server: Sshd, tmp_path: Path) -> None:
    sshd.keygen(tmp_path / "stranger", "stranger")
    config = server.client_config(tmp_path, key=tmp_path / "stranger")
    with pytest.raises(LoginRefused, match=rf"login as {server.user} refused .*authorized_keys"):
        transport(config).run("true")


def test_nothing_listening_is_unreachable_named(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path)
    config.write_text(config.read_text().replace(f"Port {server.port}", f"Port {free_port()}"))
    with pytest.raises(HostUnreachable, match=r"^target: cannot connect to 127\.0\.0\.1:\d+ \(Connection refused\)"):
        transport(config).run("true")


def test_a_missing_ssh_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(HostUnreachable, match=rf"^target: no ssh_config at {tmp_path / 'nope'} "):
        transport(tmp_path / "nope")


def test_the_proxy_command_carries_the_connection_with_the_hosts_tokens(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path)
    record = tmp_path / "relay-args"
    ssh = transport(config, proxy_command=relay(server, record), user=server.user)
    assert ssh.run("echo through the proxy").output.strip() == "through the proxy"
    assert record.read_text() == f"127.0.0.1 {server.port} {server.user}"
    ssh.close()


def test_through_the_proxy_an_unknown_key_is_still_refused(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path, known_hosts="")
    line = r"add it: echo '\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA"
    with pytest.raises(HostKeyRefused, match=rf"unknown host key .*get-console-output .* {line}"):
        transport(config, proxy_command=relay(server, tmp_path / "r")).run("true")


def test_a_failing_proxy_command_says_so_with_its_complaint(server: Sshd, tmp_path: Path) -> None:
    config = server.client_config(tmp_path)
    closed = free_port()
    failing = f"{sys.executable} {RELAY} 127.0.0.1 {closed}"
    with pytest.raises(
        ProxyFailed,
        match=rf"^target: the proxy command `.*` failed \(exit 1: relay: cannot reach 127\.0\.0\.1:{closed}: ",
    ):
        transport(config, proxy_command=failing).run("true")


def test_a_proxyjump_hop_is_checked_as_well(server: Sshd, tmp_path: Path) -> None:
    """Fabric builds ProxyJump hops itself, accepting any key: the hop is pinned like the host behind it."""
    config = server.client_config(tmp_path)
    (tmp_path / "jump_known_hosts").write_text("")
    jump = (
        f"Host jump\n    HostName 127.0.0.1\n    Port {server.port}\n    User {server.user}\n"
        f"    IdentityFile {server.client_key}\n    UserKnownHostsFile {tmp_path / 'jump_known_hosts'}\n"
    )
    config.write_text(jump + config.read_text().replace("Host target\n", "Host target\n    ProxyJump jump\n"))
    with pytest.raises(HostKeyRefused, match=r"^jump: unknown host key "):
        transport(config).run("true")

    (tmp_path / "jump_known_hosts").write_text(server.known_hosts_line())
    assert transport(config).run("echo through the hop").output.strip() == "through the hop"


def _with_stack_outputs(repo: Path, outputs: dict) -> StateLayout:
    """The state layout of `repo` holding stack `aws-like`'s outputs, where `fab infra.outputs` writes them."""
    state = StateLayout.default(repo)
    state.stack_outputs("aws-like").parent.mkdir(parents=True)
    state.stack_outputs("aws-like").write_text(json.dumps(outputs))
    return state


def test_an_environment_is_reached_as_its_stack_outputs_say(server: Sshd, tmp_path: Path) -> None:
    """The AWS shape: hosts by instance id, reached as access.user through access.ssh_proxy_command, the key pinned
    in the environment's own known_hosts; the operator's ssh_config names only the key."""
    instance = "i-0123456789abcdef0"
    outputs = {
        "schema_version": SCHEMA_VERSION,
        "hosts": {"web": [{"name": "web-1", "instance_id": instance, "private_ip": "10.0.0.1"}]},
        "access": {
            "method": "ssm",
            "user": "admin",
            "deploy_user": server.user,
            "ssh_proxy_command": relay(server, tmp_path / "args"),
        },
        "url": "https://pay.example.com",
    }
    state = _with_stack_outputs(tmp_path, outputs)
    (tmp_path / "ssh_config").write_text(f"Host i-*\n    IdentityFile {server.client_key}\n")
    env = parse_environment(
        {
            "name": "aws-like",
            "transport": "ssh",
            "service_manager": "systemd",
            "root": "/srv/golive",
            "stack_outputs": "aws-like",
            "ssh_config": "ssh_config",
            "instances": [{"name": "app", "port": 8000}],
        },
        repo=tmp_path,
    )
    access = SshAccess.of(env, state)
    assert (access.user, access.known_hosts) == (server.user, state.known_hosts("aws-like"))

    with pytest.raises(HostKeyRefused, match=rf"^{instance}: unknown host key .* {instance} is not in {state.root}"):
        SshTransport(instance, access).run("true")

    state.known_hosts("aws-like").parent.mkdir(parents=True, exist_ok=True)
    state.known_hosts("aws-like").write_text(server.known_hosts_line(name=instance))
    assert SshTransport(instance, access).run("id -un").output.strip() == server.user
    assert (tmp_path / "args").read_text() == f"{instance} 22 {server.user}"


def test_the_fleet_builds_its_transports_from_the_environments_access(tmp_path: Path) -> None:
    outputs = {
        "schema_version": SCHEMA_VERSION,
        "hosts": {"web": ["i-1"]},
        "access": {"user": "admin", "deploy_user": "golive-deploy", "ssh_proxy_command": "proxy %h"},
        "url": "x",
    }
    _with_stack_outputs(tmp_path, outputs)
    env = parse_environment(
        {
            "name": "aws-like",
            "transport": "ssh",
            "service_manager": "systemd",
            "root": "/srv/golive",
            "stack_outputs": "aws-like",
            "instances": [{"name": "app", "port": 8000}],
        },
        repo=tmp_path,
    )
    connection = Fleet.of(env).transports["i-1"]._connection
    # The release logs in as the deploy user (`user` is Ansible's, whose sudo is not the release's to use)
    assert (connection.user, connection.gateway) == ("golive-deploy", "proxy %h")


def test_the_proxy_commands_tokens_are_openssh_s():
    command = "session %n via %h:%p as %r, 100%%"
    expanded = expand_proxy_command(command, host="198.18.0.11", port=22, user="golive-deploy", name="web1")
    assert expanded == "session web1 via 198.18.0.11:22 as golive-deploy, 100%"
    assert expand_proxy_command("s %n", host="i-1", port=22, user="u") == "s i-1"  # no other name: the host's
    with pytest.raises(ValueError, match="unknown token %x"):
        expand_proxy_command("s %x", host="h", port=22, user="u")
