"""The lab for real: `fab lab.up` boots every host, SSH works with the generated key and config, the hosts
reach each other and nothing else, a second up changes nothing, `fab lab.down` leaves nothing behind (also
after a partial or a failed up), and a warm up reuses the cached image.

The tests run in file order and share one freshly booted lab. The lab is left up, freshly booted (whatever was
converged onto it is gone), when it was up before or when lab tests of other files follow in this run (the first
converge starts from it); otherwise it is taken down again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.environment import load_environment
from lab import network, overlay, processes
from lab.image.build import current_key
from lab.layout import Layout
from lab.plan import CONTROLLER, HOSTS, host
from tests.support.lab.fab import Run, fab, leftovers, nspawn_pids, ssh

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.timeout(1800)]
LAYOUT = Layout.default()


@pytest.fixture(scope="module")
def first_up(request: pytest.FixtureRequest) -> Iterator[Run]:
    """A freshly booted lab: one already up (perhaps converged, its firewall closing ports) is cycled first."""
    here = Path(__file__)
    used_later = any(item.get_closest_marker("lab") and item.path != here for item in request.session.items)
    was_up = LAYOUT.record.exists()
    if was_up:
        down = fab("lab.down")
        assert down.returncode == 0, down.output
    run = fab("lab.up")
    assert run.returncode == 0, run.output
    assert "booting lb, web1, web2, db, partners, monitoring" in run.output, run.output
    yield run
    restore = fab("lab.up") if was_up or used_later else fab("lab.down")
    assert restore.returncode == 0, restore.output


def test_up_boots_every_host_with_systemd_running(first_up: Run) -> None:
    for item in HOSTS:
        state = subprocess.run(
            ["ssh", "-F", str(LAYOUT.ssh_config), item.name, "hostname; systemctl is-system-running"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.split()
        assert state[0] == item.name
        assert state[1] in ("running", "degraded"), f"{item.name}: {state[1]}"


def test_guests_run_nftables_and_set_their_own_network_sysctls(first_up: Run) -> None:
    """What the firewall and common roles need: nft in the guest's namespace, net.* sysctls writable there
    (and only there: the controller's value is untouched), the rest of /proc/sys read-only."""
    sysctl = "/proc/sys/net/ipv4/tcp_syncookies"
    controller = Path(sysctl).read_text()
    checks = (
        "nft list ruleset >/dev/null && echo nft-ok; "
        f"test -w {sysctl} && echo net-writable; "
        "test -w /proc/sys/kernel/randomize_va_space || echo kernel-read-only"
    )
    assert ssh("web2", checks).split() == ["nft-ok", "net-writable", "kernel-read-only"]
    guest = ssh("web2", f"cat {sysctl}").strip()
    flipped = "0" if guest != "0" else "1"
    try:
        ssh("web2", f"echo {flipped} > {sysctl}")
        assert ssh("web2", f"cat {sysctl}").strip() == flipped
        assert Path(sysctl).read_text() == controller
    finally:
        ssh("web2", f"echo {guest} > {sysctl}")


def test_ssh_with_the_generated_key_and_pinned_host_keys(first_up: Run) -> None:
    assert LAYOUT.key.stat().st_mode & 0o077 == 0, "the lab's private key is readable by others"
    for item in HOSTS:
        completed = subprocess.run(
            [
                "ssh",
                "-F",
                "/dev/null",
                "-i",
                str(LAYOUT.key),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                f"UserKnownHostsFile={LAYOUT.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
                f"admin@{item.address}",  # the image's login user (as cloud-init makes it); root has no key
                "cat /etc/hostname",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == item.name


def test_up_writes_the_stack_outputs_the_release_reads(first_up: Run) -> None:
    """state/lab/stack-outputs.json in the Pulumi program's schema (tests/lab/test_outputs.py checks its shape): the
    release takes the lab's hosts from it, each reachable by its name over the lab's ssh_config."""
    assert LAYOUT.stack_outputs.stat().st_mode & 0o777 == 0o644
    env = load_environment("lab")
    assert env.web_hosts == ("web1", "web2") and env.hosts["db"] == ("db",)
    assert env.entry_url == f"https://{host('lb').address}"
    for name in (*env.web_hosts, env.hosts["db"][0]):
        assert ssh(name, "cat /etc/hostname").strip() == name


def test_inventory_lists_every_group(first_up: Run) -> None:
    tool = Path(sys.executable).with_name("ansible-inventory")
    if not tool.exists():
        pytest.skip("ansible-inventory is not installed (pip install -e '.[ops]')")
    listing = json.loads(
        subprocess.run([str(tool), "-i", str(LAYOUT.inventory), "--list"], capture_output=True, check=True).stdout
    )
    assert listing["web"]["hosts"] == ["web1", "web2"]
    for group in ("lb", "db", "partners", "monitoring"):
        assert listing[group]["hosts"] == [group]
    assert listing["_meta"]["hostvars"]["db"]["ansible_host"] == "198.18.0.20"


def test_each_host_has_its_address_and_reaches_the_others(first_up: Run) -> None:
    targets = " ".join(str(item.address) for item in HOSTS)
    probe = (
        "import socket, sys\nfor a in sys.argv[1:]:\n    socket.create_connection((a, 22), 3).close()\nprint('ok')\n"
    )
    for item in HOSTS:
        assert f"inet {item.cidr}" in ssh(item.name, "ip -4 -o addr show dev eth0")
        assert ssh(item.name, f'python3 -c "{probe}" {targets}').strip() == "ok"
        assert ssh(item.name, "getent hosts db monitoring controller").split()[::2] == [
            "198.18.0.20",
            "198.18.0.40",
            str(CONTROLLER),
        ]


def test_hosts_have_no_route_out_of_the_lab(first_up: Run) -> None:
    default = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True, check=True)
    gateway = [word for word in default.stdout.split() if word.count(".") == 3][:1]
    outside = [*gateway, "9.9.9.9"]  # the machine's own gateway, and a public address
    for item in HOSTS:
        routes = ssh(item.name, "ip -4 route show").splitlines()
        assert {line.split()[0] for line in routes} == {"default", "198.18.0.0/24"}
    # The controller routes nothing from the bridge anywhere else (policy rule), whatever ip_forward says.
    for address in outside:
        route = subprocess.run(
            ["ip", "route", "get", address, "from", str(host("web1").address), "iif", "golive-br0"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert route.returncode != 0 or "unreachable" in route.stdout, route.stdout
        refused = ssh(
            "web1",
            f"python3 -c \"import socket\ntry:\n socket.create_connection(('{address}', 80), 3)\n print('connected')\n"
            f"except OSError as e:\n print('refused', e)\"",
        )
        assert refused.startswith("refused"), f"web1 reached {address}: {refused}"


def test_up_twice_is_a_noop(first_up: Run) -> None:
    before = nspawn_pids()
    again = fab("lab.up")
    assert again.returncode == 0, again.output
    assert "already running, left alone" in again.output
    assert "booting" not in again.output
    assert nspawn_pids() == before


def test_status_prints_a_row_per_host(first_up: Run) -> None:
    status = fab("lab.status")
    assert status.returncode == 0, status.output
    pids = nspawn_pids()
    for item in HOSTS:
        row = next(line for line in status.output.splitlines() if f" {item.name} " in line)
        assert str(item.address) in row and ("running" in row or "degraded" in row), row
        assert "yes" in row and str(pids[item.name]) in row, row


def test_down_leaves_nothing_behind(first_up: Run) -> None:
    pids = nspawn_pids()
    guests = [pid for item in HOSTS for pid in processes.rooted_in(LAYOUT.merged(item.name))]
    assert len(pids) == len(HOSTS) and guests
    down = fab("lab.down")
    assert down.returncode == 0, down.output
    assert [pid for pid in [*pids.values(), *guests] if processes.alive(pid)] == []
    assert leftovers() == []
    assert not LAYOUT.runtime.exists()
    assert not LAYOUT.ssh_config.exists() and not LAYOUT.key.exists() and not LAYOUT.stack_outputs.exists()


def test_down_twice_is_safe(first_up: Run) -> None:
    again = fab("lab.down")
    assert again.returncode == 0, again.output
    assert leftovers() == []


def test_down_after_a_partial_up(first_up: Run) -> None:
    """What an interrupted up may leave: the bridge, one host's namespace and veth, a mounted overlay."""
    image = LAYOUT.cache / current_key() / "root"
    network.ensure_bridge()
    network.ensure_host(host("db"))
    overlay.mount(LAYOUT, "db", image)
    assert leftovers()
    down = fab("lab.down")
    assert down.returncode == 0, down.output
    assert leftovers() == []


def test_a_failed_up_undoes_what_it_started(first_up: Run) -> None:
    failed = fab("lab.up", env={"GOLIVE_LAB_BOOT_TIMEOUT": "0.2"})
    assert failed.returncode == 2, failed.output
    assert "not booted with SSH answering within" in failed.output
    assert "lab.up undid what it had started" in failed.output
    assert leftovers() == []
    assert nspawn_pids() == {}


def test_a_warm_up_reuses_the_cached_image(first_up: Run) -> None:
    manifest = LAYOUT.cache / current_key() / "manifest.json"
    built = manifest.stat().st_mtime_ns
    warm = fab("lab.up")
    assert warm.returncode == 0, warm.output
    assert "base image cached" in warm.output and "debootstrap" not in warm.output
    assert manifest.stat().st_mtime_ns == built
    assert len(nspawn_pids()) == len(HOSTS)
    print(f"warm lab.up: {warm.seconds:.1f} s")
