"""golive-backup, the program on the database host: roles/backups ships this package and a launcher calling
`main`; the units run it as postgres (the metric as root), and so does the controller over SSH for an environment
with `backup_host:` (foundation/backups/on_host.py), reading the one JSON line a command it runs ends with.
Complaints go to stderr as `golive-backup: ...`. Exit 0 done, 1 failed (nothing changed), 2 refused (usage,
settings, no such backup). With key_file its dumps are sealed (sealing.py); with a bucket each is shipped there
once proven (`release`) or taken (`dump`), and `list`, `prove`, `restore` find the bucket's too (store.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backup import Backup
from .errors import BackupNotFound, BackupUnusable, ToolMissing
from .metric import METRIC_FILE, write_metric
from .sealing import KeyInvalid, read_key
from .settings import CONFIG, Settings, SettingsInvalid, read_settings
from .shipping import Bucket
from .store import Store

Command = Callable[[Settings, argparse.Namespace], int]


def _say(text: str) -> None:
    print(f"golive-backup: {text}", file=sys.stderr, flush=True)


def _answer(data: dict[str, Any]) -> None:
    """The one JSON line a command that a controller runs ends with (foundation/backups/on_host.py reads it)."""
    print(json.dumps(data, sort_keys=True), flush=True)


def _store(settings: Settings) -> Store:
    key = read_key(settings.key_file) if settings.key_file else None
    bucket = Bucket(settings.bucket, settings.endpoint_url, settings.region) if settings.bucket else None
    return Store(settings.folder, key, bucket)


def _shipped(store: Store, backup: Backup) -> str | None:
    """Ships the backup when there is a bucket; says where it went, or that it stays here."""
    url = store.ship(backup)
    _say(f"{backup.id} shipped to {url}" if url else f"no backup bucket set: {backup.id} stays in {store.folder}")
    return url


def _dump(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    taken = store.take(settings.url, keep=settings.keep)
    sealed = f", sealed with {store.key.source}" if store.key else ""
    rows = sum(taken.row_counts.values())
    _say(f"{taken.path} ({taken.size} bytes{sealed}, {len(taken.row_counts)} tables, {rows} rows)")
    _shipped(store, taken)
    return 0


def _restore_test(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    found = store.list()
    if not found:
        _say(f"no backup in {store.place}")
        return 1
    with store.found(found[0].id) as newest:
        restored = store.prove(newest, settings.url, scratch=settings.scratch_database)
    _say(f"{newest.id} restores: {len(restored)} tables, {sum(restored.values())} rows, counts match")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    found = store.list()
    if args.json:
        _answer({"backups": [backup.summary() for backup in found]})
        return 0
    here = {backup.id for backup in store.list_here()}
    for backup in found:
        print(backup.path if backup.id in here else store.bucket_url(backup))
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    verified = _store(settings).verify(tuple(args.ids))
    for backup_id, problem in verified.items():
        if problem is not None:
            _say(f"{backup_id}: {problem}")
    _answer({"verified": verified})
    return 0


def _proven(settings: Settings, store: Store, backup: Backup) -> None:
    """Restores `backup` into the scratch database, counts compared."""
    store.prove(backup, settings.url, scratch=settings.scratch_database)
    _say(f"{backup.id} restores into {settings.scratch_database}: counts match")


def _prove(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    with store.found(args.id, sha256=args.sha256) as found:
        _proven(settings, store, found)
    _answer(found.summary())
    return 0


def _release(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    taken = store.take(settings.url, keep=settings.keep)
    _proven(settings, store, taken)
    shipped = _shipped(store, taken)
    _answer({**taken.summary(), **({"shipped": shipped} if shipped else {})})
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    with store.found(args.id, sha256=args.sha256) as found:
        _answer(store.restore(found, settings.url, into=args.into, keep_replaced=not args.discard_replaced))
    return 0


def _metric(settings: Settings, args: argparse.Namespace) -> int:
    if settings.metrics_folder is None:
        return 0
    if not settings.metrics_folder.is_dir():
        # The dump itself is good: say so, but do not fail the backup over its metric.
        _say(f"no textfile collector folder {settings.metrics_folder} (is node_exporter installed?)")
        return 0
    newest = write_metric(settings.folder, settings.metrics_folder, settings.database)
    _say(f"{settings.metrics_folder / METRIC_FILE}: {newest.id}" if newest else "no whole backup yet: no metric")
    return 0


def _settings(settings: Settings, args: argparse.Namespace) -> int:
    _store(settings)  # the key file readable, long enough and private
    _answer(
        {
            "database": settings.database,
            "folder": str(settings.folder),
            "keep": settings.keep,
            "scratch_database": settings.scratch_database,
            "metrics_folder": str(settings.metrics_folder or ""),
            "key_file": str(settings.key_file or ""),
            "bucket": settings.bucket or "",
            "endpoint_url": settings.endpoint_url or "",
            "region": settings.region or "",
        }
    )
    return 0


COMMANDS: dict[str, tuple[Command, str]] = {
    "dump": (_dump, "pg_dump -Fc with its row counts; keeps the newest `keep`"),
    "restore-test": (_restore_test, "prove the newest backup in the scratch database"),
    "list": (_list, "the backups' files (the bucket's as s3:// URLs), newest first (--json: one JSON line)"),
    "verify": (_verify, "check each backup's file against its manifest's sha256; answers one JSON line"),
    "prove": (_prove, "restore a backup into the scratch database and compare row counts; answers one JSON line"),
    "release": (_release, "dump, prove that very dump, ship it; answers one JSON line"),
    "restore": (_restore, "restore a backup over the live database (or --into a new one); answers one JSON line"),
    "metric": (_metric, "node_exporter's textfile metric of the newest backup (as root)"),
    "settings": (_settings, "check the settings file; answers it as one JSON line"),
}
ID_HELP = "a backup id (the dump's file name without .dump)"
SHA256_HELP = "refuse unless the backup's manifest has this sha256"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="golive-backup",
        description="Backups of the golive database proven by a restore (run as postgres; metric as root). "
        "Exit 0 done, 1 failed (nothing changed), 2 refused (usage, settings, no such backup).",
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help=f"the settings file (default {CONFIG})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = {}
    for name, (run, text) in COMMANDS.items():
        sub[name] = commands.add_parser(name, help=text, description=text)
        sub[name].set_defaults(run=run)
    sub["list"].add_argument("--json", action="store_true", help="one JSON line: every backup's summary")
    sub["verify"].add_argument("ids", nargs="*", metavar="ID", help=f"{ID_HELP}; none: every backup")
    sub["prove"].add_argument("id", help=ID_HELP)
    sub["prove"].add_argument("--sha256", help=SHA256_HELP)
    sub["restore"].add_argument("id", help=ID_HELP)
    sub["restore"].add_argument("--into", help="a new database to restore into; the live one is left alone")
    sub["restore"].add_argument("--sha256", help=SHA256_HELP)
    sub["restore"].add_argument(
        "--discard-replaced", action="store_true", help="do not dump the live database before replacing it"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # dumps hold every payment: their owner only
    try:
        settings = read_settings(args.config)
        return int(args.run(settings, args))
    except (SettingsInvalid, KeyInvalid, BackupNotFound) as exc:
        _say(str(exc))
        return 2
    except (BackupUnusable, ToolMissing) as exc:
        if args.command == "restore":
            _say(f"{args.id} not restored, the database is as it was: {exc}")
        else:
            _say(f"{args.command} failed: {exc}")
        return 1
