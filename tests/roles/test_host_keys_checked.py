"""Ansible and testinfra reach hosts with OpenSSH under the repository's ansible.cfg and an inventory shaped like the
lab's (ansible_ssh_common_args='-F <ssh_config>'): against a real sshd on loopback, a pinned key connects and an
unknown one stops them. Nothing in the repository turns host-key checking off."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

from foundation.repository import REPO_ROOT
from tests.support import sshd
from tests.support.sshd import Sshd

ANSIBLE = Path(sys.executable).parent / "ansible"
TURNED_OFF = (
    "StrictHostKeyChecking=no",
    "StrictHostKeyChecking no",
    "host_key_checking = False",
    "host_key_checking=False",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Sshd:
    running = sshd.start(tmp_path_factory.mktemp("sshd"))
    yield running
    running.stop()


def lab_like(folder: Path, server: Sshd, known_hosts: str) -> tuple[Path, Path]:
    """An ssh_config and an inventory written the way lab/render.py writes the lab's."""
    (folder / "known_hosts").write_text(known_hosts)
    config = folder / "ssh_config"
    config.write_text(
        f"Host target 127.0.0.1\n    HostName 127.0.0.1\n    Port {server.port}\n    User {server.user}\n"
        f"    IdentityFile {server.client_key}\n    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {folder / 'known_hosts'}\n    GlobalKnownHostsFile /dev/null\n"
        "    StrictHostKeyChecking yes\n    BatchMode yes\n"
    )
    inventory = folder / "inventory.ini"
    inventory.write_text(
        f"[web]\ntarget ansible_host=127.0.0.1 ansible_port={server.port}\n\n[all:vars]\n"
        f"ansible_user={server.user}\nansible_ssh_private_key_file={server.client_key}\n"
        f"ansible_ssh_common_args='-F {config}'\nansible_python_interpreter={sys.executable}\n"
    )
    return config, inventory


def ansible_ping(inventory: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "vault-password").write_text("unused\n")
    env = os.environ | {
        "ANSIBLE_VAULT_PASSWORD_FILE": str(folder / "vault-password"),  # not the lab's (it would write state/lab)
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(folder / "ansible-tmp"),
        # no ControlPersist master: one left by the first run would carry the next past the key check, and outlive
        # the test by a minute
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPath=none",
    }
    env.pop("ANSIBLE_HOST_KEY_CHECKING", None)
    return subprocess.run(
        [str(ANSIBLE), "target", "-i", str(inventory), "-m", "ansible.builtin.ping"],
        cwd=REPO_ROOT,  # the repository's ansible.cfg
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repositorys_ansible_cfg_checks_host_keys() -> None:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "ansible.cfg")
    assert config.getboolean("defaults", "host_key_checking") is True


def test_nothing_in_the_repository_turns_host_key_checking_off() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.split():
        path = REPO_ROOT / name
        if path.suffix not in (".cfg", ".ini", ".yml", ".yaml", ".py", ".j2", ".sh", ""):
            continue
        if path.resolve() == Path(__file__).resolve() or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {phrase}" for phrase in TURNED_OFF if phrase in text]
    assert offenders == []


@pytest.mark.slow
def test_ansible_connects_with_a_pinned_key_and_stops_at_an_unknown_one(server: Sshd, tmp_path: Path) -> None:
    (tmp_path / "pinned").mkdir()
    _, inventory = lab_like(tmp_path / "pinned", server, server.known_hosts_line())
    pinned = ansible_ping(inventory, tmp_path / "pinned")
    assert pinned.returncode == 0 and "ping: pong" in pinned.stdout, pinned.stdout + pinned.stderr

    (tmp_path / "unknown").mkdir()
    _, inventory = lab_like(tmp_path / "unknown", server, "")
    unknown = ansible_ping(inventory, tmp_path / "unknown")
    said = unknown.stdout + unknown.stderr
    assert unknown.returncode == 4 and "pong" not in said, said  # 4: a host unreachable; the module never ran
    # Ssh's own words, unless Ansible (pipelining: it writes the module to ssh's stdin as ssh starts) found ssh gone
    # before it could write, and says that instead.
    assert "Host key verification failed" in said or "[Errno 32] Broken pipe" in said, said


def test_testinfra_through_the_ssh_config_stops_at_an_unknown_key(server: Sshd, tmp_path: Path) -> None:
    config, _ = lab_like(tmp_path, server, server.known_hosts_line())
    assert testinfra.get_host("ssh://target", ssh_config=str(config)).check_output("echo pinned") == "pinned"

    other = sshd.keygen(tmp_path / "other", "someone-else")
    (tmp_path / "known_hosts").write_text(server.known_hosts_line(key=other))
    with pytest.raises(RuntimeError, match=r"exit_status=255, .*_stdout=b'', .*Host key verification failed"):
        testinfra.get_host("ssh://target", ssh_config=str(config)).run("echo reached")
