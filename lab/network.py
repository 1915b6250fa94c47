"""The lab's network: a bridge holding the controller's 198.18.0.1, and per host a network namespace whose
eth0 is one end of a veth pair plugged into the bridge. Builders return commands; apply/remove run them."""

from __future__ import annotations

import json
import subprocess
import time

from lab.errors import LabError
from lab.plan import BRIDGE, CONTROLLER, NETWORK, ROUTE_TABLE, RULE_PRIORITY, Host
from lab.shell import run, succeeds

Command = list[str]
VETH_GONE_SECONDS = 5.0


def bridge_commands() -> list[Command]:
    return [
        ["ip", "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", f"{CONTROLLER}/{NETWORK.prefixlen}", "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
    ]


def isolation_commands() -> list[Command]:
    """Nothing from the bridge is routed anywhere but the lab, even on a machine that forwards packets."""
    table = str(ROUTE_TABLE)
    return [
        ["ip", "route", "add", str(NETWORK), "dev", BRIDGE, "table", table],
        ["ip", "route", "add", "unreachable", "default", "table", table],
        ["ip", "rule", "add", "pref", str(RULE_PRIORITY), "iif", BRIDGE, "lookup", table],
    ]


def host_commands(host: Host) -> list[Command]:
    ns = ["ip", "-n", host.netns]
    return [
        ["ip", "netns", "add", host.netns],
        ["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns],
        ["ip", "link", "set", host.veth, "master", BRIDGE, "up"],
        [*ns, "link", "set", "lo", "up"],
        [*ns, "addr", "add", host.cidr, "dev", "eth0"],
        [*ns, "link", "set", "eth0", "up"],
        [*ns, "route", "add", "default", "via", str(CONTROLLER)],
    ]


def remove_host_commands(host: Host) -> list[Command]:
    """Deleting the namespace deletes eth0 and with it the veth pair; the second command is for a pair whose
    namespace never got its end."""
    return [["ip", "netns", "delete", host.netns], ["ip", "link", "delete", host.veth]]


def remove_bridge_commands() -> list[Command]:
    return [
        ["ip", "rule", "delete", "pref", str(RULE_PRIORITY)],
        ["ip", "route", "flush", "table", str(ROUTE_TABLE)],
        ["ip", "link", "delete", BRIDGE],
    ]


def namespaces() -> set[str]:
    output = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {entry["name"] for entry in json.loads(output or "[]")}


def links() -> set[str]:
    output = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=False).stdout
    return {entry["ifname"] for entry in json.loads(output or "[]")}


def rule_present() -> bool:
    output = subprocess.run(["ip", "rule", "show"], capture_output=True, text=True, check=False).stdout
    return any(line.startswith(f"{RULE_PRIORITY}:") for line in output.splitlines())


def host_ready(host: Host) -> bool:
    return host.netns in namespaces() and host.veth in links()


def ensure_bridge() -> None:
    if BRIDGE not in links():
        for command in bridge_commands():
            run(command, f"creating the bridge {BRIDGE}")
    if not rule_present():
        succeeds(["ip", "route", "flush", "table", str(ROUTE_TABLE)])
        for command in isolation_commands():
            run(command, "isolating the lab (policy routing)")


def ensure_host(host: Host) -> None:
    """Creates the host's namespace and veth pair; a half-made pair (from an interrupted run) is redone."""
    if host_ready(host):
        return
    remove_host(host)
    for command in host_commands(host):
        run(command, f"{host.name}: network")


def remove_host(host: Host) -> None:
    """Deleting the namespace takes the veth pair with it, but asynchronously (the kernel tears a namespace
    down once its last process has gone): wait for that before deleting a pair left on its own."""
    if host.netns in namespaces():
        run(remove_host_commands(host)[0], f"{host.name}: deleting namespace {host.netns}")
    deadline = time.monotonic() + VETH_GONE_SECONDS
    while host.veth in links() and time.monotonic() < deadline:
        time.sleep(0.1)
    if host.veth in links() and not succeeds(remove_host_commands(host)[1]) and host.veth in links():
        raise LabError(f"{host.name}: could not delete {host.veth} (`ip link delete {host.veth}`)")


def remove_bridge() -> None:
    while rule_present():
        run(remove_bridge_commands()[0], "removing the lab's routing rule")
    succeeds(remove_bridge_commands()[1])
    if BRIDGE in links():
        run(remove_bridge_commands()[2], f"deleting the bridge {BRIDGE}")
