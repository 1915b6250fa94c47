"""pg_restore's SQL written into psql: one transaction that commits only once pg_restore has read the whole dump.

`pg_restore --single-transaction --file=-` writes one BEGIN ... COMMIT, the COMMIT only once every entry was read;
psql (ON_ERROR_STOP) stops at the first error. This module's BEGIN opens the transaction (pg_restore's own only
warns), so the clearing SQL, when asked for, runs inside it too: the database is either the backup or untouched."""

from __future__ import annotations

import subprocess
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import IO

from .clearing import clear_sql
from .connection import Target, tool_env
from .errors import RestoreFailed
from .tools import find_tool, first_error

CHUNK = 1024 * 1024


def _pump(source: IO[bytes], sink: IO[bytes]) -> bool:
    """Copies until source ends; False when the reader (psql) went away first."""
    try:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
    except BrokenPipeError:
        return False
    return True


def run_restore(dump: Path, excluded: tuple[str, ...], db: Target, *, clear: bool) -> None:
    """Restores the pg_dump file `dump` into `db` in one transaction, clearing what the dump covers (all but the
    `excluded` schemas) first when `clear`; RestoreFailed (nothing committed) naming the first error otherwise."""
    pg_restore = find_tool("pg_restore")
    psql = find_tool("psql")
    preamble = "SET client_min_messages = warning;\nBEGIN;\n"
    if clear:
        preamble += clear_sql(excluded)
    restore_cmd = [str(pg_restore), "--exit-on-error", "--single-transaction", "--file=-", str(dump)]
    if clear:
        restore_cmd[1:1] = ["--clean", "--if-exists"]
    psql_cmd = [str(psql), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", f"--dbname={db.conninfo}", "-f", "-"]
    with tempfile.TemporaryDirectory(prefix="golive-restore-") as tmp, tool_env(db) as env:
        restore_err_path = Path(tmp) / "pg_restore.err"
        psql_err_path = Path(tmp) / "psql.err"
        with restore_err_path.open("wb") as restore_err, psql_err_path.open("wb") as psql_err:
            reader = subprocess.Popen(restore_cmd, stdout=subprocess.PIPE, stderr=restore_err, env=env)
            writer = subprocess.Popen(
                psql_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env
            )
            assert reader.stdout is not None and writer.stdin is not None
            try:
                try:
                    writer.stdin.write(preamble.encode())
                    piped = _pump(reader.stdout, writer.stdin)
                except BrokenPipeError:
                    piped = False
                if not piped:  # psql stopped (an error, or no connection): pg_restore must not block on it
                    reader.kill()
                reader_rc = reader.wait()
                if not (piped and reader_rc == 0):
                    with suppress(BrokenPipeError):
                        # Unless pg_restore ended mid-COPY, where this is data; then the connection closing
                        # without a COMMIT rolls back.
                        writer.stdin.write(b"ROLLBACK;\n")
                with suppress(BrokenPipeError):
                    writer.stdin.close()
                writer_rc = writer.wait()
            finally:
                for proc in (reader, writer):
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                reader.stdout.close()
        restore_stderr = restore_err_path.read_text(errors="replace")
        psql_stderr = psql_err_path.read_text(errors="replace")
    if piped and reader_rc != 0:
        raise RestoreFailed(f"pg_restore failed: {first_error(restore_stderr)}")
    if writer_rc != 0 or not piped:
        raise RestoreFailed(f"pg_restore failed: {first_error(psql_stderr)}")
