"""The PostgreSQL client programs (pg_dump, pg_restore, psql): where they are, their major version, and the first
error in what they print.

Where they are, in order: the folder in GOLIVE_PG_BIN when set (and nowhere else then), the PostgreSQL bundled
with pgserver when installed, the newest /usr/lib/postgresql/<major>/bin, then PATH."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import ToolMissing

PG_BIN_VARIABLE = "GOLIVE_PG_BIN"
SYSTEM_ROOT = Path("/usr/lib/postgresql")


def pgserver_bin() -> Path | None:
    """The client programs bundled with the pgserver wheel (the embedded PostgreSQL), when it is installed."""
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def system_bins() -> list[Path]:
    """/usr/lib/postgresql/<major>/bin, newest major first."""
    if not SYSTEM_ROOT.is_dir():
        return []
    majors = [entry for entry in SYSTEM_ROOT.iterdir() if entry.name.isdigit() and (entry / "bin").is_dir()]
    return [entry / "bin" for entry in sorted(majors, key=lambda entry: int(entry.name), reverse=True)]


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str) -> Path:
    """The path of a PostgreSQL client program (pg_dump, pg_restore, psql)."""
    configured = os.environ.get(PG_BIN_VARIABLE)
    if configured:
        candidate = Path(configured) / name
        if _executable(candidate):
            return candidate
        raise ToolMissing(f"{name} not found in {configured} ({PG_BIN_VARIABLE})")
    bundled = pgserver_bin()
    folders = ([bundled] if bundled is not None else []) + system_bins()
    for folder in folders:
        if _executable(folder / name):
            return folder / name
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    looked = ", ".join([*(str(folder) for folder in folders), "PATH"])
    raise ToolMissing(
        f"{name} not found (looked in {looked}); install the PostgreSQL client programs "
        f"or set {PG_BIN_VARIABLE} to their folder"
    )


def tool_major(name: str) -> int:
    """The major version of a client program, from `<tool> --version`."""
    tool = find_tool(name)
    result = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=False, timeout=30)
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise ToolMissing(f"{tool} --version gave no version: {(result.stdout + result.stderr).strip()[:200]}")
    return int(match.group(1))


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def first_error(stderr: str) -> str:
    """The first error line of pg_dump/pg_restore/psql output, without the program's prefix."""
    for line in stderr.splitlines():
        match = re.search(r"(?:\berror:|\bERROR:|\bFATAL:)\s*(.*)", line)
        if match:
            return match.group(1).strip()
    return first_line(stderr) or "no error output"
