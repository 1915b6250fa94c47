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
    key_file: Path | None = None  # the secret the dumps are sealed with (0600); "" or left out: not sealed
    bucket: str | None = None  # the backup bucket they are shipped to (needs key_file); "" or left out: none
    endpoint_url: str | None = None  # its S3 API (the lab's stand-in); "" or left out: AWS's
    region: str | None = None  # its region; "" or left out: the AWS chain's

    @property
    def url(self) -> str:
        return make_conninfo("", dbname=self.database)


_SETTINGS = {"database": str, "folder": str, "keep": int, "scratch_database": str, "metrics_folder": str}
# Settings a file may leave out (one written before they existed): "" means the same.
_OPTIONAL = {"key_file": str, "bucket": str, "endpoint_url": str, "region": str}


def read_settings(path: Path) -> Settings:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsInvalid(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SettingsInvalid(f"{path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsInvalid(f"{path}: not a JSON object")
    problems = [f"unknown setting {key!r}" for key in sorted(set(raw) - set(_SETTINGS) - set(_OPTIONAL))]
    raw = {**dict.fromkeys(_OPTIONAL, ""), **raw}
    for key, kind in {**_SETTINGS, **_OPTIONAL}.items():
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{key} must be a {kind.__name__}, not {value!r}")
    good = {key: raw[key] for key, kind in {**_SETTINGS, **_OPTIONAL}.items() if isinstance(raw.get(key), kind)}
    if good.get("keep", 1) < 1:
        problems.append(f"keep must be at least 1, not {good['keep']}")
    names = (good.get("database"), good.get("scratch_database"))
    if None not in names and ("" in names or names[0] == names[1]):
        problems.append("database and scratch_database must be two names (the scratch one is dropped)")
    if good.get("folder") == "":
        problems.append("folder must be set")
    problems.extend(
        f"{key} must be an absolute path, not {good[key]!r}"
        for key in ("folder", "metrics_folder", "key_file")
        if good.get(key) and not Path(good[key]).is_absolute()
    )
    if good.get("bucket") and not good.get("key_file"):
        problems.append("bucket needs key_file: backups leave the host only sealed")
    if good.get("endpoint_url") and not good["endpoint_url"].startswith(("http://", "https://")):
        problems.append(f"endpoint_url must be an http(s):// URL, not {good['endpoint_url']!r}")
    if problems:
        raise SettingsInvalid(f"{path}: " + "; ".join(problems))
    return Settings(
        raw["database"],
        Path(raw["folder"]),
        raw["keep"],
        raw["scratch_database"],
        Path(raw["metrics_folder"]) if raw["metrics_folder"] else None,
        Path(raw["key_file"]) if raw["key_file"] else None,
        raw["bucket"] or None,
        raw["endpoint_url"] or None,
        raw["region"] or None,
    )
