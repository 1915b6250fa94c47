"""python -m app.db migrate|verify|current|downgrade — the service's schema, from the command line.

The database comes from GOLIVE_DATABASE_URL (never from the command line, where ps would show it).
"""

from __future__ import annotations

import argparse
import sys

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from app.db import migrator
from app.db.urls import DatabaseNotConfigured, database_url
from app.migrations.checks import SchemaVerificationError
from app.settings import SettingsError, get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.db",
        description="Manage the payments service's schema (Alembic, under an advisory lock, verified). "
        "Reads the database from GOLIVE_DATABASE_URL.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("migrate", help="upgrade to the newest (or a given) revision, then verify")
    up.add_argument("--to", default="head", help="target revision (default: head)")
    down = sub.add_parser("downgrade", help="downgrade to a revision (base = empty schema), then verify")
    down.add_argument("--to", required=True, help="target revision, e.g. 0001, -1 or base")
    for command in (up, down):
        command.add_argument("--lock-timeout-ms", type=int, default=5000, help="wait for locks this long")
        command.add_argument(
            "--statement-timeout-ms", type=int, default=60000, help="abort any one statement after this"
        )
    sub.add_parser("verify", help="run every applied revision's verify step")
    sub.add_parser("current", help="print the database's revision (or 'none')")
    sub.add_parser("head", help="print the newest revision this code ships")
    return parser


def _run(args: argparse.Namespace) -> str:
    if args.command == "head":
        return migrator.head_revision()
    url = database_url(get_settings())
    if args.command == "current":
        return migrator.current(url) or "none"
    if args.command == "verify":
        result = migrator.verify(url)
        if result.after is None:
            raise migrator.MigrationError("the database has no schema yet: run `python -m app.db migrate`")
        return f"verified {', '.join(result.verified)} (at {result.after})"
    timeouts = {"lock_timeout_ms": args.lock_timeout_ms, "statement_timeout_ms": args.statement_timeout_ms}
    run = migrator.migrate if args.command == "migrate" else migrator.downgrade
    result = run(url, args.to, **timeouts)
    if result.before == result.after:
        return f"already at {result.after or 'base'}; verified"
    return f"{result.before or 'base'} -> {result.after or 'base'}; verified {', '.join(result.verified) or '-'}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        print(_run(args))
    except (
        SettingsError,
        DatabaseNotConfigured,
        migrator.MigrationError,
        SchemaVerificationError,
        CommandError,
        SQLAlchemyError,
    ) as exc:
        message = str(exc).splitlines()[0]
        print(f"app.db {args.command}: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
