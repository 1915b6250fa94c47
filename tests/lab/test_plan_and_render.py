"""The address plan and the files rendered from it (pure, fast)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from lab.plan import CONTROLLER, HOSTS, NETWORK, Host, host, problems
from lab.render import SESSION, etc_hosts, inventory, known_hosts, ssh_config

KEY = Path("/repo/state/lab/id_ed25519")
KNOWN = Path("/repo/state/lab/known_hosts")
CONFIG = Path("/repo/state/lab/ssh_config")


def test_the_plan_is_the_designs() -> None:
    assert ipaddress.IPv4Network("198.18.0.0/24") == NETWORK
    assert str(CONTROLLER) == "198.18.0.1"
    assert {h.name: str(h.address) for h in HOSTS} == {
        "lb": "198.18.0.10",
        "web1": "198.18.0.11",
        "web2": "198.18.0.12",
        "db": "198.18.0.20",
        "partners": "198.18.0.30",
        "monitoring": "198.18.0.40",
    }
    assert problems() == []


def test_every_address_is_in_the_lab_network_only() -> None:
    for item in HOSTS:
        assert item.address in NETWORK
        assert item.cidr.endswith("/24")
        assert item.address != CONTROLLER


def test_a_bad_plan_is_named() -> None:
    outside = Host("x", ipaddress.IPv4Address("192.0.2.50"), ("web",))
    twin = Host("web1", ipaddress.IPv4Address("198.18.0.11"), ("web",))
    controller = Host("c", CONTROLLER, ("db",))
    found = problems((*HOSTS, outside, twin, controller))
    assert any("192.0.2.50 is not a usable lab address" in p for p in found)
    assert any("198.18.0.1 is not a usable lab address" in p for p in found)
    assert any("duplicate names: web1" in p for p in found)
    assert any("duplicate addresss: 198.18.0.11" in p for p in found)


def test_interface_names_fit_the_kernel() -> None:
    assert host("monitoring").veth == "gl-monitoring"
    assert all(len(item.veth) <= 15 for item in HOSTS)


def test_etc_hosts_names_every_lab_host() -> None:
    lines = etc_hosts().splitlines()
    assert "198.18.0.1\tcontroller" in lines
    for item in HOSTS:
        assert f"{item.address}\t{item.name}" in lines
    assert "127.0.0.1\tlocalhost" in lines
    assert not any(line.startswith("127.0.1.1") for line in lines)


def test_ssh_config_aliases_and_pinned_keys() -> None:
    text = ssh_config(KEY, KNOWN)
    # Each host by its alias and its address (Ansible connects by address), through the session into its namespace
    session = f"ProxyCommand {sys.executable} {SESSION} /run/netns/golive-db %p"
    assert f"Host db 198.18.0.20\n    HostName 198.18.0.20\n    {session}\n" in text
    assert "Host lb web1 web2 db partners monitoring 198.18.0.*\n" in text
    for setting in (
        "User admin",
        f"IdentityFile {KEY}",
        "IdentitiesOnly yes",
        f"UserKnownHostsFile {KNOWN}",
        "StrictHostKeyChecking yes",
        "BatchMode yes",
    ):
        assert f"    {setting}\n" in text


def test_known_hosts_pins_each_host_under_name_and_address() -> None:
    keys = {item.name: f"ssh-ed25519 AAAA{item.name} root@{item.name}" for item in HOSTS}
    lines = known_hosts(keys).splitlines()
    assert "web2,198.18.0.12 ssh-ed25519 AAAAweb2" in lines
    assert len(lines) == len(HOSTS)


def test_inventory_groups_and_connection() -> None:
    text = inventory(KEY, CONFIG)
    assert "[web]\nweb1 ansible_host=198.18.0.11\nweb2 ansible_host=198.18.0.12\n" in text
    for group in ("lb", "db", "partners", "monitoring"):
        assert f"[{group}]\n{group} ansible_host=" in text
    assert "[lab:children]\nlb\nweb\ndb\npartners\nmonitoring\n" in text
    assert "ansible_user=admin\nansible_become=true\n" in text
    assert f"ansible_ssh_common_args='-F {CONFIG}'\n" in text
    assert f"ansible_ssh_private_key_file={KEY}\n" in text
