"""The entry point's name resolves (and, when the environment lists them, to the expected addresses)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from checks.context import Context
from checks.model import Result, failed, not_applicable, passed
from checks.registry import check


@check("dns.resolves")
def resolves(ctx: Context, args: dict[str, Any]) -> Result:
    name = ctx.config["tls_name"] or ctx.entry_host
    command = f"getaddrinfo({name!r}, 443)"
    try:
        ipaddress.ip_address(name)
        return not_applicable(f"{ctx.env.name}'s entry point is an address ({name}), not a name")
    except ValueError:
        pass
    if name == "localhost":
        return not_applicable("the entry point is localhost")
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)})
    except socket.gaierror as exc:
        return failed(f"{name} does not resolve: {exc.strerror}", command)
    return passed(f"{name} -> {', '.join(addresses)}", command, ", ".join(addresses))
