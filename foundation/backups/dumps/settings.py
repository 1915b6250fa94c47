"""golive-backup's settings: /etc/golive-backup.json, written by roles/backups (templates/golive-backup.json.j2),
checked by `golive-backup --config FILE settings` before the role puts it in place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

CONFIG = Path("/etc/golive-backup.json")  # the program's default (roles/backups, tasks/program.yml)


class SettingsInvalid(Exception):
    """The settings file cannot be read, is not JSON, or has wrong settings (each one named)."""


@dataclass(frozen=True)
class Settings:
    """/etc/golive-backup.json (roles/backups/templates/golive-backup.json.j2)."""

    database: str  # reached as libpq's defaults say: the local socket, as the user running the program (peer)
    folder: Path
    keep: int
    scratch_database: str
    metrics_folder: Path | None  # "" in the file: no metric

    @property
    def url(self) -> str:
        return make_conninfo("", dbname=self.database)


_SETTINGS = {"database": str, "folder": str, "keep": int, "scratch_database": str, "metrics_folder": str}


def read_settings(path: Path) -> Settings:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsInvalid(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SettingsInvalid(f"{path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsInvalid(f"{path}: not a JSON object")
    problems = [f"unknown setting {key!r}" for key in sorted(set(raw) - set(_SETTINGS))]
    for key, kind in _SETTINGS.items():
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{key} must be a {kind.__name__}, not {value!r}")
    good = {key: raw[key] for key, kind in _SETTINGS.items() if isinstance(raw.get(key), kind)}
    if good.get("keep", 1) < 1:
        problems.append(f"keep must be at least 1, not {good['keep']}")
    names = (good.get("database"), good.get("scratch_database"))
    if None not in names and ("" in names or names[0] == names[1]):
        problems.append("database and scratch_database must be two names (the scratch one is dropped)")
    if good.get("folder") == "":
        problems.append("folder must be set")
    problems.extend(
        f"{key} must be an absolute path, not {good[key]!r}"
        for key in ("folder", "metrics_folder")
        if good.get(key) and not Path(good[key]).is_absolute()
    )
    if problems:
        raise SettingsInvalid(f"{path}: " + "; ".join(problems))
    return Settings(
        raw["database"],
        Path(raw["folder"]),
        raw["keep"],
        raw["scratch_database"],
        Path(raw["metrics_folder"]) if raw["metrics_folder"] else None,
    )
