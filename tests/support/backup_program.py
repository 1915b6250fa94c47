"""The golive-backup program as the db host has it, set up here: foundation/backups/dumps.py copied as
`golive-backup` (what roles/backups does), its settings file, and the environment it runs in — libpq's defaults
pointing at the embedded PostgreSQL's socket, as the db host's point at its own as postgres."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from foundation.backups import dumps
from release.backups import on_host


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


def install(root: Path, url: str, interpreter: str, extra_env: dict[str, str] | None = None) -> Host:
    """The program under root/sbin, its settings root/golive-backup.json (database: the one of `url`), its
    backups in root/backups, its metric in root/textfile."""
    program = root / "sbin" / "golive-backup"
    program.parent.mkdir(parents=True)
    shutil.copy(dumps.__file__, program)
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
