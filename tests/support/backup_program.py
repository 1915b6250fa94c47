"""The golive-backup program as the db host has it, set up here as roles/backups installs it: the modules of
foundation/backups/dumps copied into a folder of their own, the role's launcher (templates/golive-backup.j2)
rendered to call them, its settings file — and the environment it runs in, libpq's defaults pointing at the
embedded PostgreSQL's socket, as the db host's point at its own as postgres. DbHostHere is that host's shell."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from foundation.backups import dumps, on_host
from foundation.repository import REPO_ROOT
from foundation.transport import CommandResult, LocalTransport
from tests.support.debian_tools import ToolUnavailable, _unpacked

PACKAGE = Path(dumps.__file__).parent
LAUNCHER = REPO_ROOT / "roles" / "backups" / "templates" / "golive-backup.j2"
DEBIAN_PYTHON = Path("/usr/bin/python3")
# What the program imports on the db host (roles/backups: backups_packages), as Debian 12 packages them, and what
# they import in turn: unpacked under state/tools when the system has not installed them.
DEBIAN_IMPORTS = "psycopg, cryptography, boto3"
DEBIAN_PACKAGES = (
    *("python3-psycopg", "python3-typing-extensions", "python3-cryptography", "python3-cffi-backend"),
    *("python3-boto3", "python3-botocore", "python3-s3transfer", "python3-jmespath", "python3-dateutil"),
    *("python3-urllib3", "python3-six", "python3-requests", "python3-idna", "python3-certifi"),
    *("python3-charset-normalizer", "python3-chardet"),
)


def debian_python() -> tuple[str, dict[str, str]]:
    """Debian 12's python3 and the environment in which it imports Debian's packages of what the program needs."""
    if not DEBIAN_PYTHON.is_file():
        raise ToolUnavailable(f"no {DEBIAN_PYTHON}")
    probe = [
        str(DEBIAN_PYTHON),
        "-c",
        f"import {DEBIAN_IMPORTS}, sys; assert sys.version_info[:2] == (3, 11), sys.version",
    ]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return str(DEBIAN_PYTHON), {}
    paths = [str(_unpacked(package) / "usr" / "lib" / "python3" / "dist-packages") for package in DEBIAN_PACKAGES]
    extra = {"PYTHONPATH": os.pathsep.join(paths)}
    answer = subprocess.run(probe, capture_output=True, text=True, env={**os.environ, **extra}, check=False)
    if answer.returncode != 0:
        raise ToolUnavailable(f"{DEBIAN_PYTHON} does not import Debian's {DEBIAN_IMPORTS}: {answer.stderr[-300:]}")
    return str(DEBIAN_PYTHON), extra


def interpreter(kind: str) -> tuple[str, dict[str, str]]:
    """The program's Python and its environment's additions: "venv" (the controller's) or "debian" (the db host's,
    skipped when it cannot be had here; under CI=true that fails instead)."""
    if kind == "venv":
        return sys.executable, {}
    try:
        return debian_python()
    except ToolUnavailable as problem:
        reason = f"Debian's python3 with the program's Debian packages is not available: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)


@dataclass
class Host:
    """The program, its settings and the environment it runs in, as on the db host."""

    argv: list[str]
    env: dict[str, str]
    settings: Path
    folder: Path
    metrics: Path
    url: str  # the live database, for the test's own look

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv, "--config", str(self.settings), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def answer(self, *arguments: str) -> dict:
        done = self.run(*arguments)
        assert done.returncode == 0, done.stderr
        return on_host.report(done.stdout + done.stderr, "db", arguments[0])

    def write_settings(self, **changes: object) -> None:
        settings = {
            "database": dumps.target(self.url).dbname,
            "folder": str(self.folder),
            "keep": 3,
            "scratch_database": f"golive_restore_test_{uuid.uuid4().hex[:6]}",
            "metrics_folder": str(self.metrics),
        }
        self.settings.write_text(json.dumps({**settings, **changes}))


def launcher(program_dir: Path) -> str:
    """The role's launcher as Ansible renders it for a program folder."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    environment.filters["to_json"] = json.dumps
    template = environment.from_string(LAUNCHER.read_text())
    return template.render(ansible_managed="Ansible managed", backups_program_dir=str(program_dir))


def install(root: Path, url: str, interpreter: str, extra_env: dict[str, str] | None = None) -> Host:
    """The package's modules under root/lib/golive-backup/<version>/dumps, the launcher root/sbin/golive-backup,
    its settings root/golive-backup.json (database: the one of `url`), its backups in root/backups, its metric in
    root/textfile."""
    program_dir = root / "lib" / "golive-backup" / "0123456789abcdef"
    (program_dir / "dumps").mkdir(parents=True)
    for module in PACKAGE.glob("*.py"):  # what the role copies: the modules, never a __pycache__
        shutil.copy(module, program_dir / "dumps" / module.name)
    program = root / "sbin" / "golive-backup"
    program.parent.mkdir(parents=True)
    program.write_text(launcher(program_dir))
    program.chmod(0o755)
    server = conninfo_to_dict(url)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PG", "GOLIVE_"))}
    env.update(extra_env or {})
    env.update(PGHOST=str(server["host"]), PGUSER=str(server.get("user", "postgres")))
    env[dumps.PG_BIN_VARIABLE] = str(dumps.find_tool("pg_dump").parent)  # the server's own major version
    metrics = root / "textfile"
    metrics.mkdir()
    host = Host([interpreter, str(program)], env, root / "golive-backup.json", root / "backups", metrics, url)
    host.write_settings()
    return host


class DbHostHere(LocalTransport):
    """The db host's shell, on this machine: `sudo -n [-u postgres]` left out (the embedded server trusts its socket)
    and the program at on_host.SCRIPT is the installed copy with its settings."""

    def __init__(self, host: Host):
        super().__init__("db")
        self.program = host
        self.commands: list[str] = []

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        self.commands.append(command)
        here = shlex.join([*self.program.argv, "--config", str(self.program.settings)])
        local = command.removeprefix("sudo -n -u postgres ").removeprefix("sudo -n ").replace(on_host.SCRIPT, here, 1)
        return super().run(local, env=self.program.env, **kwargs)


def add_payments(url: str, count: int) -> None:
    """`count` payments in a migrated service database."""
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(count):
            conn.execute(
                """INSERT INTO payments (id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes,
                                         wallet_address, state)
                   VALUES (%s, %s, 'fp', %s, 'usdt-5', 650, %s, 'initiated')""",
                [uuid.uuid4(), f"key-{i}", f"2547{i:08d}", "0x" + f"{i:040x}"],
            )
