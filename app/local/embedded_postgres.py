"""The embedded PostgreSQL of the local environment (pgserver: a PostgreSQL in a wheel, no root)."""

from __future__ import annotations

import logging
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
    import pgserver  # noqa: PLC0415

    if (data_dir / "postmaster.pid").exists():
        pgserver.get_server(str(data_dir), cleanup_mode="stop").cleanup()
