"""Service logs hold no secret and no full phone number: the newest lines of every instance's log are
scanned for the service's own secret values (read from its settings, never shown), secret-looking
key=value pairs and bearer tokens, and unmasked Kenyan mobile numbers (the service logs 254712***678).
A finding is reported by file, line and kind, its value masked. Where the environment has a monitoring host
(its `monitoring:` section), the logs are read from the journal aggregated there (every web host's at once)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from checks.context import Context
from checks.model import Result, failed, passed
from checks.registry import check
from checks.settings import SECRET_NAMES
from foundation.environment import Environment
from foundation.ssh_access import SshAccess
from foundation.transport import LocalTransport, SshTransport, Transport

# A full number as the service would see it: 2547XXXXXXXX / 2541XXXXXXXX, +254…, 07XXXXXXXX, 01XXXXXXXX, with the
# service's own boundaries (app/observability/logging_json.py): not inside a longer number, word, id or decimal.
PHONE = re.compile(r"(?<![0-9A-Za-z+])(?<![0-9][.\-])(?:\+?254|0)[17][0-9]{8}(?![0-9A-Za-z])(?![.\-][0-9])")
SECRET_PAIR = re.compile(
    r"(?i)\b(password|passwd|secret|passkey|api[_-]?key|consumer[_-]?key|access[_-]?token|private[_-]?key)"
    r"[\"']?\s*[:=]\s*[\"']?(?!\[REDACTED\])[A-Za-z0-9+/_\-.]{6,}"
)
BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED\])(?=[A-Za-z+/_\-.=]*[0-9])[A-Za-z0-9+/_\-.=]{12,}")
URL_PASSWORD = re.compile(r"[a-z]+://[^\s:/@]+:(?!\[REDACTED\])[^\s@/]{3,}@")


@dataclass(frozen=True)
class Finding:
    source: str
    line: int
    kind: str
    masked: str
    where: str = ""  # for a JSON log line: its logger and the field holding the finding

    def describe(self) -> str:
        return f"{self.source} line {self.line}: {self.kind} {self.masked}" + (f" ({self.where})" if self.where else "")


def _where(line: str, needle: str) -> str:
    try:
        entry = json.loads(line)
    except ValueError:
        return ""
    if not isinstance(entry, dict):
        return ""
    fields = [str(key) for key, value in entry.items() if needle in json.dumps(value, ensure_ascii=False)]
    return f"logger {entry.get('logger', '?')}, field {', '.join(fields) or '?'}"


def _mask(value: str) -> str:
    return value[:3] + "*" * max(0, len(value) - 5) + value[-2:] if len(value) > 6 else "*" * len(value)


PATTERNS = (
    (SECRET_PAIR, "a secret-like key=value"),
    (BEARER, "a credential"),
    (URL_PASSWORD, "a URL with a password"),
    (PHONE, "a full phone number"),
)


def scan(source: str, text: str, secrets: list[str]) -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        hits = [("a secret of the service's settings", secret, "[not shown]") for secret in secrets if secret in line]
        for pattern, kind in PATTERNS:
            hits += [(kind, match.group(), _mask(match.group())) for match in pattern.finditer(line)]
        findings += [Finding(source, number, kind, masked, _where(line, found)) for kind, found, masked in hits]
    return findings


# Where systemd-journal-remote keeps every host's journal on the monitoring host (roles/monitoring).
AGGREGATED_JOURNAL = "/var/log/journal/remote"


def log_aggregator(env: Environment) -> str | None:
    """The host holding every host's journal when the environment has a monitoring host: its `monitoring:`
    section's `logs_host`, else the host its `prometheus_url` names (both run on the monitoring host)."""
    if env.monitoring is None:
        return None
    return env.monitoring.logs_host or urlsplit(env.monitoring.prometheus_url).hostname


def sources(ctx: Context) -> list[tuple[str, str]]:
    """(host, shell command printing the log) for each service log. With a monitoring host (systemd hosts
    uploading their journals to it) the aggregated journal there is read: every web host's service lines in one
    place, the unit's own output and anything logged under its name."""
    configured = ctx.config["service_logs"]
    lines = int(ctx.config["log_lines"])
    aggregator = log_aggregator(ctx.env) if configured is None and ctx.env.service_manager == "systemd" else None
    if aggregator:
        matches = " + ".join(
            f"_SYSTEMD_UNIT=golive-{i.name}.service + SYSLOG_IDENTIFIER=golive-{i.name}" for i in ctx.env.instances
        )
        return [(aggregator, f"journalctl -D {AGGREGATED_JOURNAL} {matches} -n {lines} --no-pager -o cat")]
    if configured is None:
        if ctx.env.service_manager == "systemd":
            units = " ".join(f"-u golive-{i.name}.service" for i in ctx.env.instances)
            return [(host, f"journalctl {units} -n {lines} --no-pager -o cat") for host in ctx.env.web_hosts]
        configured = [f"{ctx.env.root}/logs/{i.name}.log" for i in ctx.env.instances]
    return [
        (
            host,
            f"for f in {' '.join(shlex.quote(p) for p in configured)}; "
            f'do test -r "$f" || {{ echo "cannot read $f"; exit 3; }}; tail -n {lines} "$f"; done',
        )
        for host in ctx.env.web_hosts
    ]


def _transport(ctx: Context, host: str) -> Transport:
    """The fleet's transport for one of the environment's hosts; for another (the monitoring host, named by its
    address) one of the same kind."""
    if host in ctx.fleet.transports:
        return ctx.transport(host)
    return LocalTransport(host) if ctx.env.is_local else SshTransport(host, SshAccess.of(ctx.env))


def _secret_values(ctx: Context) -> list[str]:
    try:
        values = ctx.service_settings
    except Exception:  # no settings file: the patterns still run
        return []
    found = [values[name] for name in SECRET_NAMES if len(values.get(name, "")) >= 8]
    return found


@check("logs.clean")
def clean(ctx: Context, args: dict[str, Any]) -> Result:
    secrets = _secret_values(ctx)
    findings: list[Finding] = []
    scanned = 0
    commands = []
    for host, command in sources(ctx):
        commands.append(f"[{host}] {command}")
        answer = _transport(ctx, host).run(command, timeout=60, check=False)
        if answer.code != 0:
            why = (answer.output.strip().splitlines() or [f"exit {answer.code}"])[-1][:200]
            return failed(f"{host}: the service logs are missing or unreadable ({why})", command)
        scanned += answer.output.count("\n")
        findings += scan(host, answer.output, secrets)
    shown = "; ".join(commands)
    if scanned == 0:
        return failed("the service logs are empty or missing: nothing proves what they hold", shown)
    if findings:
        listed = "; ".join(f.describe() for f in findings[:5])
        return failed(f"{len(findings)} findings in {scanned} lines: {listed}", shown, len(findings))
    return passed(f"{scanned} lines scanned: no secret, credential or full phone number", shown, 0)


@check("logs.errors")
def errors(ctx: Context, args: dict[str, Any]) -> Result:
    count, scanned = 0, 0
    commands = []
    for host, command in sources(ctx):
        commands.append(f"[{host}] {command}")
        answer = _transport(ctx, host).run(command, timeout=60, check=False)
        if answer.code != 0:
            return failed(f"{host}: the service logs are missing or unreadable", command)
        output = answer.output
        scanned += output.count("\n")
        count += sum(1 for line in output.splitlines() if '"level": "ERROR"' in line or '"level":"ERROR"' in line)
    shown = "; ".join(commands)
    if scanned == 0:
        return failed("the service logs are empty or missing", shown)
    if count:
        return failed(f"{count} ERROR lines in the newest {scanned} log lines: review them", shown, count)
    return passed(f"no ERROR line in the newest {scanned} log lines", shown, 0)
