"""The lab's address plan and names: pure data, the one place they are defined."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

NETWORK = ipaddress.IPv4Network("198.18.0.0/24")
CONTROLLER = ipaddress.IPv4Address("198.18.0.1")
BRIDGE = "golive-br0"


def netns_of(name: str) -> str:
    """A host's network namespace (`ip netns`), by its name; also with OpenSSH's %n for the name."""
    return f"golive-{name}"


def netns_path_of(name: str) -> str:
    """Where `ip netns` keeps that namespace (what nspawn joins and the session enters)."""
    return f"/run/netns/{netns_of(name)}"


# Policy routing: packets arriving from the bridge that are not for the lab meet an unreachable route,
# whatever the machine's ip_forward says.
RULE_PRIORITY = 1981
ROUTE_TABLE = 1981
SUITE = "bookworm"
IFNAMSIZ = 15  # longest Linux interface name


@dataclass(frozen=True)
class Host:
    name: str
    address: ipaddress.IPv4Address
    groups: tuple[str, ...]

    @property
    def netns(self) -> str:
        return netns_of(self.name)

    @property
    def veth(self) -> str:
        """The bridge's end of the host's veth pair (the other end is eth0 inside the host's namespace)."""
        return f"gl-{self.name}"

    @property
    def cidr(self) -> str:
        return f"{self.address}/{NETWORK.prefixlen}"


def _host(name: str, last_octet: int, *groups: str) -> Host:
    return Host(name, NETWORK.network_address + last_octet, groups)


HOSTS: tuple[Host, ...] = (
    _host("lb", 10, "lb"),
    _host("web1", 11, "web"),
    _host("web2", 12, "web"),
    _host("db", 20, "db"),
    _host("partners", 30, "partners"),
    _host("monitoring", 40, "monitoring"),
)
GROUPS: tuple[str, ...] = ("lb", "web", "db", "partners", "monitoring")


def host(name: str) -> Host:
    for candidate in HOSTS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no lab host named {name!r} (hosts: {', '.join(h.name for h in HOSTS)})")


def problems(hosts: tuple[Host, ...] = HOSTS) -> list[str]:
    """What is wrong with an address plan (empty when it is sound)."""
    found = []
    usable = set(NETWORK.hosts()) - {CONTROLLER}
    for item in hosts:
        if item.address not in usable:
            found.append(f"{item.name}: {item.address} is not a usable lab address in {NETWORK} (controller .1)")
        if len(item.veth) > IFNAMSIZ or len(BRIDGE) > IFNAMSIZ:
            found.append(f"{item.name}: interface name {item.veth} is longer than {IFNAMSIZ} characters")
        unknown = set(item.groups) - set(GROUPS)
        if unknown:
            found.append(f"{item.name}: unknown groups {sorted(unknown)}")
    for attribute in ("name", "address"):
        values = [getattr(item, attribute) for item in hosts]
        duplicates = sorted({str(v) for v in values if values.count(v) > 1})
        if duplicates:
            found.append(f"duplicate {attribute}s: {', '.join(duplicates)}")
    return found
