"""The service's production settings and secrets: present, none empty or a placeholder (foundation/placeholders.py;
a pre-deploy check, so the release refuses before any change), neither in the settings file nor in the environment's
declared secret source (foundation/secrets/: a vault file, Secrets Manager, SSM Parameter Store); valid as the service
itself would load them, the file holding them not readable by others, M-Pesa production values and credentials that
Daraja accepts. Values are secrets: results name settings, never show a value."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.contract import SANDBOX_PASSKEY, STRICT_ENVIRONMENTS, STRICT_REQUIRED
from app.contract import Settings as ServiceSettings
from checks.context import Context
from checks.model import Result, failed, not_applicable, passed
from checks.registry import check
from foundation import host_commands
from foundation.placeholders import unfilled
from foundation.secrets.resolve import refusals
from foundation.secrets.source import SecretsUnavailable

SANDBOX_SHORTCODE = "174379"
ALWAYS = ("GOLIVE_ENV", "GOLIVE_DATABASE_URL", "GOLIVE_PUBLIC_BASE_URL", "GOLIVE_DARAJA_BASE_URL")
STRICT_ONLY = tuple(name for name in (f"GOLIVE_{name.upper()}" for name in STRICT_REQUIRED) if name not in ALWAYS)
SECRET_NAMES = tuple(
    f"GOLIVE_{name.upper()}" for name, info in ServiceSettings.model_fields.items() if "Secret" in str(info.annotation)
)
LOAD = "from app.settings import load_settings; s = load_settings(); print(s.env)"


def redact(text: str, values: dict[str, str]) -> str:
    for name in SECRET_NAMES:
        value = values.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "[REDACTED]")
    return text


def required_names(values: dict[str, str]) -> tuple[str, ...]:
    strict = values.get("GOLIVE_ENV") in STRICT_ENVIRONMENTS
    return ALWAYS + (STRICT_ONLY if strict else ())


def validate(values: dict[str, str], *, state_dir: str | None = None) -> str | None:
    """Loads the settings in a fresh interpreter whose environment is exactly the file's (as the service
    does); None when they load, else the service's own message (redacted)."""
    with tempfile.TemporaryDirectory(prefix="golive-settings-") as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **values}
        env["GOLIVE_STATE_DIR"] = state_dir or tmp  # generated secrets are read, or made in a throwaway folder
        done = subprocess.run(
            [sys.executable, "-c", LOAD], capture_output=True, text=True, env=env, timeout=60, check=False
        )
    if done.returncode == 0:
        return None
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return redact(last, values)


@check("settings.required")
def required(ctx: Context, args: dict[str, Any]) -> Result:
    command = f"read {ctx.settings_file} on {ctx.env.web_hosts[0]}; python -c 'load_settings()' with exactly it"
    refused = _source_refusals(ctx)
    if refused:
        return failed(refused, f"read the secrets of {ctx.env.secrets.describe()}; {command}")
    values = ctx.service_settings
    names = required_names(values)
    missing = [name for name in names if name not in values]
    blank = unfilled(values)
    if blank:
        return failed(f"not filled in: {', '.join(blank)} (values not shown)", command, len(blank))
    env_name = values.get("GOLIVE_ENV", "-")
    if ctx.strict and env_name != ctx.env.name:
        return failed(f"GOLIVE_ENV is {env_name!r} in the {ctx.env.name} settings file", command)
    if missing:
        return failed(f"missing: {', '.join(missing)}", command, len(missing))
    local_state = values.get("GOLIVE_STATE_DIR") if ctx.env.is_local else None
    problem = validate(values, state_dir=local_state)
    if problem:
        return failed(f"the service would not start: {problem}", command)
    return passed(f"present and valid (values not shown): {', '.join(names)}", command, len(names))


def _source_refusals(ctx: Context) -> str | None:
    """What the environment's secret source lacks (every key named with the source), or why it cannot be read."""
    try:
        refused = refusals(ctx.env.secrets, ctx.state.environment(ctx.env.name))
    except SecretsUnavailable as exc:
        return f"secrets not read: {exc}"
    return f"not filled in: {'; '.join(refused)} (values not shown)" if refused else None


@check("settings.secured")
def secured(ctx: Context, args: dict[str, Any]) -> Result:
    problems, seen = [], []
    command = host_commands.settings(ctx.fleet.layout, stat=True)
    for host in ctx.env.web_hosts:
        answer = ctx.transport(host).run(command, timeout=20, check=False)
        if answer.code != 0:
            said = (answer.output.strip().splitlines() or [f"exit {answer.code}"])[-1]
            problems.append(f"{host}: {ctx.settings_file} not read ({said})")
            continue
        mode, owner = answer.output.split()[:2]
        seen.append(f"{host}: mode {mode} owner {owner}")
        if int(mode, 8) & 0o007:
            problems.append(f"{host}: {ctx.settings_file} is readable by every user (mode {mode})")
    if problems:
        return failed("; ".join(problems), command)
    return passed("; ".join(seen) + " (not world-readable)", command)


@check("settings.mpesa_production")
def mpesa_production(ctx: Context, args: dict[str, Any]) -> Result:
    command = f"read GOLIVE_DARAJA_* from {ctx.settings_file}"
    if ctx.env.name != "production":
        return not_applicable(f"{ctx.env.name} uses the Daraja sandbox by design", command)
    values = ctx.service_settings
    problems = []
    if values.get("GOLIVE_DARAJA_SHORTCODE", SANDBOX_SHORTCODE) == SANDBOX_SHORTCODE:
        problems.append("GOLIVE_DARAJA_SHORTCODE is the sandbox's (or unset)")
    if values.get("GOLIVE_DARAJA_PASSKEY", SANDBOX_PASSKEY) == SANDBOX_PASSKEY:
        problems.append("GOLIVE_DARAJA_PASSKEY is the public sandbox passkey (or unset)")
    if "sandbox" in values.get("GOLIVE_DARAJA_BASE_URL", "sandbox"):
        problems.append("GOLIVE_DARAJA_BASE_URL points at the sandbox (or is unset)")
    if problems:
        return failed("; ".join(problems), command)
    return passed("production shortcode, passkey and Daraja URL set (values not shown)", command)


@check("settings.callback_url")
def callback_url(ctx: Context, args: dict[str, Any]) -> Result:
    base = ctx.service_settings.get("GOLIVE_PUBLIC_BASE_URL", "").rstrip("/")
    command = f"GOLIVE_PUBLIC_BASE_URL in {ctx.settings_file} vs the entry point {ctx.entry}"
    if not base:
        return failed("GOLIVE_PUBLIC_BASE_URL is not set: Daraja would call back to the default", command)
    if ctx.strict and not base.startswith("https://"):
        return failed(f"callbacks go to {base}: not https", command, base)
    if urlsplit(base).hostname != ctx.entry_host:
        return failed(f"callbacks go to {base}, not to this environment's entry point {ctx.entry}", command, base)
    return passed(f"callbacks go to {base}/api/callbacks/stk/…", command, base)


def _credentials(ctx: Context) -> tuple[str, str, str] | None:
    values = ctx.service_settings
    key, secret = values.get("GOLIVE_DARAJA_CONSUMER_KEY"), values.get("GOLIVE_DARAJA_CONSUMER_SECRET")
    if not (key and secret) and not ctx.strict and values.get("GOLIVE_STATE_DIR"):
        generated = ctx.read_host_file(ctx.env.web_hosts[0], f"{values['GOLIVE_STATE_DIR']}/secrets.json")
        stored = json.loads(generated)
        key, secret = stored.get("daraja_consumer_key"), stored.get("daraja_consumer_secret")
    base = values.get("GOLIVE_DARAJA_BASE_URL")
    return (base, key, secret) if base and key and secret else None


@check("mpesa.credentials")
def mpesa_credentials(ctx: Context, args: dict[str, Any]) -> Result:
    found = _credentials(ctx)
    if found is None:
        return failed(f"no Daraja URL, consumer key and secret in {ctx.settings_file}")
    base, key, secret = found
    command = f"GET {base}/oauth/v1/generate?grant_type=client_credentials (Basic <consumer key:secret>)"
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    try:
        answer = httpx.get(
            f"{base}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
            timeout=15,
        )
    except httpx.HTTPError as exc:
        return failed(f"Daraja at {base} did not answer: {type(exc).__name__}", command)
    if answer.status_code != 200 or "access_token" not in answer.text:
        return failed(f"Daraja refused our credentials: {answer.status_code}", command, answer.status_code)
    expires = answer.json().get("expires_in")
    return passed(f"Daraja issued a token for our credentials (expires_in {expires}; token not shown)", command)


@check("settings.error_tracking")
def error_tracking(ctx: Context, args: dict[str, Any]) -> Result:
    """Unhandled errors reach a person: a Sentry DSN in the service's settings (the key never shown). Without one
    the service still counts them (golive_unhandled_errors_total), which is enough only outside staging/production."""
    command = f"GOLIVE_SENTRY_DSN in {ctx.settings_file}"
    dsn = ctx.service_settings.get("GOLIVE_SENTRY_DSN", "").strip()
    if not dsn:
        counted = "unhandled errors are counted (golive_unhandled_errors_total) but reported to no one"
        if ctx.strict:
            return failed(f"GOLIVE_SENTRY_DSN is not set: {counted}", command)
        return not_applicable(f"{ctx.env.name} has no Sentry DSN: {counted}", command)
    parts = urlsplit(dsn)
    project = parts.path.strip("/")
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname or not project.isdigit():
        shape = "https://<key>@<host>/<project id>"
        return failed(f"GOLIVE_SENTRY_DSN is not a Sentry DSN ({shape}; value not shown)", command)
    reported = f"unhandled errors reported to Sentry at {parts.hostname}, project {project} (key not shown)"
    return passed(reported, command)
