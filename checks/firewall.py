"""Firewall, from outside: from the controller, every port an environment says is closed on a host must
refuse or drop a TCP connection, and every port it says is open must accept one
(`checks: firewall: {lb: {open: [443], closed: [5432, 8000]}}`, hosts by name or address)."""

from __future__ import annotations

import socket
from typing import Any

from checks.context import Context
from checks.model import Result, failed, not_applicable, passed
from checks.registry import check


def probe(host: str, port: int, timeout: float) -> str:
    """ "open", "refused" or "filtered" (no answer within the timeout)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "filtered"
    except OSError as exc:
        return f"unreachable ({exc.strerror or exc})"


@check("firewall.ports")
def ports(ctx: Context, args: dict[str, Any]) -> Result:
    rules: dict[str, dict[str, list[int]]] = ctx.config["firewall"]
    if not rules:
        if ctx.strict:
            return failed(f"no firewall expectations for {ctx.env.name} (checks: firewall: in its description)")
        return not_applicable(f"{ctx.env.name} declares no firewall (checks: firewall: in its description)")
    timeout = float(ctx.config["port_timeout_seconds"])
    problems, seen = [], []
    for host, rule in rules.items():
        for port in rule.get("closed", []):
            state = probe(host, int(port), timeout)
            seen.append(f"{host}:{port} {state}")
            if state == "open":
                problems.append(f"{host}:{port} is open (must be closed)")
        for port in rule.get("open", []):
            state = probe(host, int(port), timeout)
            seen.append(f"{host}:{port} {state}")
            if state != "open":
                problems.append(f"{host}:{port} is {state} (must be open)")
    command = "TCP connect from the controller to " + ", ".join(
        f"{host}:{','.join(str(p) for p in [*rule.get('closed', []), *rule.get('open', [])])}"
        for host, rule in rules.items()
    )
    if problems:
        return failed("; ".join(problems), command, len(problems))
    return passed("; ".join(seen), command)
