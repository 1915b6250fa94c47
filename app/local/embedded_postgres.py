"""The embedded PostgreSQL of the local environment (pgserver: a PostgreSQL in a wheel, no root)."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

# pgserver narrates every command it runs at INFO; keep its warnings only.
logging.getLogger("pgserver").setLevel(logging.WARNING)
# platformdirs (via pgserver) warns on every import when XDG_RUNTIME_DIR is unset, as under sudo or CI.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class EmbeddedPostgresUnavailable(RuntimeError):
    pass


def start(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the server on data_dir and return its URL (a Unix socket in data_dir)."""
    try:
        import pgserver  # noqa: PLC0415  (an extra: only the local environment and the tests need it)
    except ImportError as exc:
        raise EmbeddedPostgresUnavailable(
            "the embedded PostgreSQL needs the 'local' extra: pip install -e '.[local]'"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def stop(data_dir: Path) -> None:
    """`pg_ctl stop` on the data folder, as the user owning it (pgserver runs the server as another user when
    we are root). Not pgserver's handle counting: it stops the server only when the calling process holds the
    last handle, and a process killed while holding one (SIGKILL: no atexit) never gives it back."""
    if not (data_dir / "postmaster.pid").exists():
        return
    from pgserver import _commands  # noqa: PLC0415  (the binaries that started the server)

    user = data_dir.stat().st_uid if os.geteuid() == 0 else None
    try:
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=60)
    except subprocess.CalledProcessError:
        if _postmaster_alive(data_dir):
            raise
    (data_dir / ".handle_pids.json").unlink(missing_ok=True)  # handles of processes that died holding one


def _postmaster_alive(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True
