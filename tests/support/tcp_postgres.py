"""A real PostgreSQL listening on a loopback TCP port (the embedded one of tests/conftest.py listens on a Unix socket
only): pgserver's binaries initialise a data folder, then `pg_ctl start` runs it on 127.0.0.1:<free port> with no
socket, `pg_ctl stop` stops it. Trust authentication: a tunnel's tests need no password."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.local import embedded_postgres
from tests.support.processes import free_port


@dataclass
class TcpPostgres:
    data: Path
    port: int
    user: str = "postgres"  # pgserver's initdb -U
    database: str = "postgres"

    def stop(self) -> None:
        embedded_postgres.stop(self.data)


def start(data: Path) -> TcpPostgres:
    embedded_postgres.start(data, keep_running=True)  # initdb (as pgserver runs it), then started on its socket
    embedded_postgres.stop(data)
    from pgserver import _commands  # noqa: PLC0415 (the binaries that initialised it)

    port = free_port()
    owner = data.stat().st_uid if os.geteuid() == 0 else None  # as root, pgserver runs the server as its owner
    _commands.pg_ctl(
        ["-w", "-o", '-h 127.0.0.1 -k ""', "-o", f"-p {port}", "-l", str(data / "tcp.log"), "start"],
        pgdata=data,
        user=owner,
        timeout=60,
    )
    return TcpPostgres(data, port)
