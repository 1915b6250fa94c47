"""python -m app.admin create-key|revoke-key|list-keys — admin API keys for x-api-key.

The key is printed once, on standard output, and stored only as a hash.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import psycopg

from app.admin.keys import create_key, list_keys, revoke_key
from app.db.urls import DatabaseNotConfigured, database_url
from app.settings import SettingsError, get_settings


async def _run(args: argparse.Namespace) -> int:
    async with await psycopg.AsyncConnection.connect(database_url(get_settings()), autocommit=True) as conn:
        if args.command == "create-key":
            try:
                print(await create_key(conn, args.name))
            except psycopg.errors.UniqueViolation:
                print(f"app.admin: a key named {args.name!r} exists; revoke it or pick another name", file=sys.stderr)
                return 1
        elif args.command == "revoke-key":
            if not await revoke_key(conn, args.name):
                print(f"app.admin: no active key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.name}")
        else:
            for name, created, revoked in await list_keys(conn):
                print(f"{name}\tcreated {created}\t{'revoked ' + revoked if revoked else 'active'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.admin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create-key", help="create a key and print it once").add_argument("name")
    sub.add_parser("revoke-key", help="revoke a key by name").add_argument("name")
    sub.add_parser("list-keys", help="list key names and their state (never the keys)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except (SettingsError, DatabaseNotConfigured, psycopg.OperationalError) as exc:
        print(f"app.admin: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
