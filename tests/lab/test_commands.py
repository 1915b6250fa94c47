"""The commands the lab runs, built without running them (pure, fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import network, nspawn, overlay, ssh
from lab.image import build, mirror, packages
from lab.image.cache_key import cache_key
from lab.keys import keygen_command
from lab.mounts import is_mounted, mounted_under
from lab.plan import HOSTS, host


def test_nspawn_boots_systemd_in_the_hosts_namespace() -> None:
    command = nspawn.command(Path("/var/lib/golive-lab/hosts/web1/root"), host("web1"))
    assert command[0] == "systemd-nspawn"
    for flag in (
        "--directory=/var/lib/golive-lab/hosts/web1/root",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--network-namespace-path=/run/netns/golive-web1",
        "--machine=web1",
        "--capability=CAP_NET_ADMIN",
    ):
        assert flag in command


def test_guests_may_change_their_own_network_settings_only() -> None:
    assert nspawn.environment()["SYSTEMD_NSPAWN_API_VFS_WRITABLE"] == "network"


def test_host_network_commands() -> None:
    commands = network.host_commands(host("db"))
    assert commands[0] == ["ip", "netns", "add", "golive-db"]
    assert ["ip", "link", "add", "gl-db", "type", "veth", "peer", "name", "eth0", "netns", "golive-db"] in commands
    assert ["ip", "link", "set", "gl-db", "master", "golive-br0", "up"] in commands
    assert ["ip", "-n", "golive-db", "addr", "add", "198.18.0.20/24", "dev", "eth0"] in commands
    assert commands[-1] == ["ip", "-n", "golive-db", "route", "add", "default", "via", "198.18.0.1"]


def test_bridge_and_isolation_commands() -> None:
    assert ["ip", "addr", "add", "198.18.0.1/24", "dev", "golive-br0"] in network.bridge_commands()
    isolation = network.isolation_commands()
    assert ["ip", "route", "add", "unreachable", "default", "table", "1981"] in isolation
    assert ["ip", "rule", "add", "pref", "1981", "iif", "golive-br0", "lookup", "1981"] in isolation


def test_every_address_in_every_command_is_in_the_lab_network() -> None:
    words = [w for c in network.bridge_commands() + network.isolation_commands() for w in c]
    words += [w for item in HOSTS for c in network.host_commands(item) for w in c]
    addresses = [w.split("/")[0] for w in words if w.count(".") == 3]
    assert addresses and all(a.startswith("198.18.0.") for a in addresses)


def test_overlay_mount_command() -> None:
    command = overlay.mount_command(Path("/img/root"), Path("/h/u"), Path("/h/w"), Path("/h/root"))
    options = "lowerdir=/img/root,upperdir=/h/u,workdir=/h/w"
    assert command == ["mount", "-t", "overlay", "overlay", "-o", options, "/h/root"]


def test_debootstrap_and_provision_commands() -> None:
    command = build.debootstrap_command(Path("/c/.build-k/root"), "http://deb.debian.org/debian")
    assert command == [
        "debootstrap",
        "--variant=minbase",
        "--include=systemd,systemd-sysv,dbus",
        "bookworm",
        "/c/.build-k/root",
        "http://deb.debian.org/debian",
    ]
    provision = build.provision_command(Path("/r"), mirror.Mirrors("http://m/debian", "http://m/debian-security"))
    assert provision[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert "mount -t proc proc /r/proc" in provision[-1]
    assert "chroot /r /bin/sh /tmp/golive-provision.sh /tmp/golive-packages.txt http://m/debian" in provision[-1]


def test_ssh_and_keygen_commands() -> None:
    assert ssh.command(Path("/s/ssh_config"), host("lb"), "true") == [
        "ssh", "-F", "/s/ssh_config", "-o", "ConnectTimeout=2", "lb", "true",
    ]  # fmt: skip
    assert keygen_command(Path("/s/id_ed25519"), "golive-lab")[:4] == ["ssh-keygen", "-q", "-t", "ed25519"]


def test_package_list_parsing() -> None:
    assert packages.parse("# c\nnginx\n\npostgresql  # the db\nnginx\nlibc6:amd64\n") == (
        "nginx",
        "postgresql",
        "libc6:amd64",
    )
    with pytest.raises(ValueError, match="line 2: 'not a package'"):
        packages.parse("nginx\nnot a package\n")


def test_the_shipped_package_list_has_what_the_roles_need() -> None:
    names = packages.load()
    for needed in ("systemd", "openssh-server", "python3", "nginx", "postgresql", "nftables", "prometheus"):
        assert needed in names


def test_cache_key_follows_the_recipe() -> None:
    key = cache_key("bookworm", "x86_64", ("a", "b"), b"script")
    assert key.startswith("bookworm-") and key == cache_key("bookworm", "x86_64", ("a", "b"), b"script")
    assert key != cache_key("bookworm", "x86_64", ("a", "b", "c"), b"script")
    assert key != cache_key("bookworm", "x86_64", ("a", "b"), b"script v2")
    assert key != cache_key("bookworm", "aarch64", ("a", "b"), b"script")


def test_mirror_from_one_line_and_deb822_sources() -> None:
    one_line = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://ftp.de.debian.org/debian/ bookworm main\n"
    deb822 = (
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n"
    )
    sources = mirror.parse_one_line(one_line) + mirror.parse_deb822(deb822)
    chosen = mirror.choose(sources, machine_is_debian=True)
    assert chosen == mirror.Mirrors("http://ftp.de.debian.org/debian", "http://security.debian.org/debian-security")
    assert mirror.choose(sources, machine_is_debian=False) == mirror.Mirrors(
        mirror.DEFAULT_MIRROR, mirror.DEFAULT_SECURITY
    )
    assert mirror.choose([], machine_is_debian=True).archive == mirror.DEFAULT_MIRROR


def test_disabled_deb822_stanzas_and_deb_src_are_ignored() -> None:
    text = "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\n\nTypes: deb\nEnabled: no\nURIs: http://b/debian\n"
    assert mirror.parse_deb822(text) == []
    assert mirror.parse_one_line("deb-src http://a/debian bookworm main\n") == []


def test_mounts_under_a_directory() -> None:
    mounts = (
        "overlay /var/lib/golive-lab/hosts/db/root overlay rw,lowerdir=/x 0 0\n"
        "proc /proc proc rw 0 0\n"
        "tmpfs /var/lib/golive-lab-other tmpfs rw 0 0\n"
    )
    assert mounted_under(Path("/var/lib/golive-lab"), mounts) == ["/var/lib/golive-lab/hosts/db/root"]
    assert is_mounted(Path("/proc"), mounts)
    assert not is_mounted(Path("/var/lib/golive-lab"), mounts)
