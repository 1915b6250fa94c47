"""How the engine reaches the lab, without a lab: instance addresses from the ssh_config, the lab CA, the
database tunnel's command and refusals, and the order a rollback takes hosts through the balancer."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation import host_commands
from foundation.environment import load_environment, parse_environment
from foundation.fleet import Deployed
from foundation.repository import REPO_ROOT
from foundation.ssh_access import SshAccess
from foundation.state import StateLayout
from foundation.transport import CommandResult
from release import engine as engine_module
from release import tunnel, tunnel_commands
from release.engine import Engine
from release.exit_codes import ExitCode
from release.plan import Action, plan_recovery, plan_release
from release.run import Run


def no_checks(phase: str, record: dict) -> tuple[dict, list[str]]:
    return {}, []


def _lab(tmp_path: Path, **overrides):
    config = tmp_path / "ssh_config"
    config.write_text(
        "# written by fab lab.up\n\nHost lb\n    HostName 198.18.0.10\n\nHost web1\n    HostName 198.18.0.11\n\n"
        "Host web2\n    HostName 198.18.0.12\n\nHost db\n    HostName 198.18.0.20\n\nHost *\n    User root\n"
    )
    raw = {
        "name": "lab",
        "transport": "ssh",
        "ssh_config": str(config),
        "service_manager": "systemd",
        "load_balancer": "nginx",
        "root": "/srv/golive",
        "hosts": {"lb": ["lb"], "web": ["web1", "web2"], "db": ["db"]},
        "instances": [{"name": "app", "port": 8000}],
        "entry_url": "https://198.18.0.10",
        "database": "tunnel",
        "checks": {"tls_ca_file": "state/lab/ca/ca.crt"},
        **overrides,
    }
    return parse_environment(raw)


def test_a_hosts_address_is_the_ssh_configs(tmp_path):
    env = _lab(tmp_path)
    assert env.address("db") == "198.18.0.20"
    assert env.address("unknown") == "unknown"


def test_the_lab_ca_is_trusted_and_the_system_one_elsewhere(tmp_path, lab_state):
    assert _lab(tmp_path).tls_verify == str(REPO_ROOT / "state/lab/ca/ca.crt")
    assert _lab(tmp_path, checks={}).tls_verify is True
    assert load_environment("lab", state=lab_state).tls_verify == str(REPO_ROOT / "state/lab/ca/ca.crt")
    assert load_environment("lab", state=lab_state).database == "tunnel"


def test_the_tunnel_forwards_a_loopback_port_to_the_db_hosts_loopback(tmp_path):
    env = _lab(tmp_path)
    command = tunnel_commands.ssh_command(SshAccess.of(env), tunnel_commands.route(env), 40123)
    assert command[:3] == ["ssh", "-F", str(tmp_path / "ssh_config")]
    assert "-N" in command and "ExitOnForwardFailure=yes" in command and "BatchMode=yes" in command
    assert command[command.index("-L") + 1] == "127.0.0.1:40123:127.0.0.1:5432"
    assert command[-1] == "db"


def test_no_tunnel_without_the_vaulted_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("GOLIVE_DATABASE_URL", raising=False)
    with pytest.raises(tunnel.TunnelFailed, match=r"secrets\.yml"):
        tunnel.database_url(_lab(tmp_path))


def test_no_tunnel_without_an_ssh_config(tmp_path, monkeypatch):
    monkeypatch.delenv("GOLIVE_DATABASE_URL", raising=False)
    env = _lab(tmp_path, ssh_config=str(tmp_path / "missing"))
    with pytest.raises(tunnel.TunnelFailed, match="lab up"):
        tunnel.database_url(env)
    with pytest.raises(tunnel.TunnelFailed, match="lab up"):
        tunnel.open_tunnel(env)


def test_a_given_database_url_wins_over_the_tunnel(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLIVE_DATABASE_URL", "postgresql://u@127.0.0.1:1/golive")
    assert tunnel.database_url(_lab(tmp_path)) == "postgresql://u@127.0.0.1:1/golive"


class _Host:
    def __init__(self, host: str, log: list[str]):
        self.host, self.log = host, log

    def run(self, command: str, **_kwargs) -> CommandResult:
        self.log.append(f"run {self.host}")
        return CommandResult(0, "")


class _Balancer:
    def __init__(self, log: list[str], out: tuple[str, ...] = ()):
        self.log, self.out = log, out

    def drained(self, host: str) -> bool:
        return host in self.out

    def drain(self, host: str) -> None:
        self.log.append(f"drain {host}")

    def undrain(self, host: str) -> None:
        self.log.append(f"undrain {host}")


def _rollback_engine(tmp_path, monkeypatch, out: tuple[str, ...] = ()) -> tuple[Engine, list[str]]:
    """An engine over fake hosts and a fake balancer, recording what it is asked to do; the lock's steps only
    pretend (there is no database)."""
    env = _lab(tmp_path, worker=False)
    engine = Engine(
        env, "postgresql://u@127.0.0.1:1/golive", state=StateLayout(tmp_path / "state"), run_checks=no_checks
    )
    log: list[str] = []
    engine.fleet.transports = {host: _Host(host, log) for host in ("lb", "web1", "web2", "db")}
    engine._balancer = _Balancer(log, out)
    monkeypatch.setattr(
        engine.fleet, "wait_healthy", lambda host, port, release, timeout: log.append(f"health {host}:{port}")
    )
    monkeypatch.setattr(engine.fleet, "deployed", lambda **_: DEPLOYED)
    monkeypatch.setitem(
        engine_module.HANDLERS, Action.LOCK, lambda _engine, _step, run: run.record.update(lock_fence=1)
    )
    monkeypatch.setitem(engine_module.HANDLERS, Action.UNLOCK, lambda *_: None)
    return engine, log


DEPLOYED = Deployed("R2", "v2", "R1", ("R1", "R2"))


def _balancer_calls(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith(("drain", "undrain"))]


def test_a_failed_release_returns_the_host_it_left_drained_first(tmp_path, monkeypatch):
    """web2 failed its health check while drained: draining web1 first would take the last host out of
    nginx (golive-upstream refuses), so web2 returns to the previous release first, then web1."""
    engine, log = _rollback_engine(tmp_path, monkeypatch)
    failed = plan_release(engine.env, version="v3", release_id="R3", deployed=DEPLOYED)
    run = Run.of(failed, {}, prior_previous="R1")
    run.switched, run.drained = ["web1", "web2"], ["web2"]
    recovery = plan_recovery(engine.env, failed, prior_previous="R1", switched=True, drained=("web2",))
    engine._run(recovery, run)
    assert _balancer_calls(log) == ["drain web2", "undrain web2", "drain web1", "undrain web1"]
    assert log.index("health web2:8000") < log.index("drain web1")
    assert run.drained == []


def test_fab_rollback_takes_each_host_out_of_the_balancer_while_it_restarts(tmp_path, monkeypatch):
    engine, log = _rollback_engine(tmp_path, monkeypatch)
    assert engine.rollback("R1") == ExitCode.OK
    assert _balancer_calls(log) == ["drain web1", "undrain web1", "drain web2", "undrain web2"]
    assert log.index("drain web1") < log.index("health web1:8000") < log.index("undrain web1")
    assert engine.audit.entries()[-1]["drained"] is True


def test_fab_rollback_asks_the_balancer_which_host_a_dead_release_left_out_and_returns_it_first(tmp_path, monkeypatch):
    engine, log = _rollback_engine(tmp_path, monkeypatch, out=("web2",))
    assert engine.rollback("R1") == ExitCode.OK
    assert _balancer_calls(log) == ["drain web2", "undrain web2", "drain web1", "undrain web1"]


def test_fab_rollback_no_drain_switches_every_host_then_puts_each_back(tmp_path, monkeypatch):
    engine, log = _rollback_engine(tmp_path, monkeypatch, out=("web2",))
    assert engine.rollback("R1", drain=False) == ExitCode.OK
    assert _balancer_calls(log) == ["undrain web1", "undrain web2"]
    assert log.index("health web2:8000") < log.index("undrain web1")
    assert engine.audit.entries()[-1]["drained"] is False


def test_a_restart_on_a_systemd_host_asks_the_release_helper_under_sudo():
    """The deploy user may run exactly roles/app's helper as root; the helper knows the unit (tests/roles/
    test_release_helper.py)."""
    layout = host_commands.Layout("/srv/golive")
    assert host_commands.restart(layout, "systemd", "app") == "sudo -n /usr/local/sbin/golive-release restart app"
    assert host_commands.migrate(layout, "r1") == "sudo -n /usr/local/sbin/golive-release migrate r1"
