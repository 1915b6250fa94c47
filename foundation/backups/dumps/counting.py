"""The counting rule, for the dump and for every restore: ordinary tables (a partitioned table's rows are counted
once, in its partitions) outside the system schemas, the excluded ones and extensions; each table's key quoted only
when needed, so no two tables share one."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND n.nspname <> ALL (%s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def _name(identifier: str) -> str:
    return identifier if _PLAIN_NAME.match(identifier) else '"' + identifier.replace('"', '""') + '"'


def table_key(schema: str, table: str) -> str:
    """A table's key in the row counts: `payments`, `reports.daily`, `"Odd.Name"` (quoted only when needed)."""
    return _name(table) if schema == "public" else f"{_name(schema)}.{_name(table)}"


def count_rows(conn: psycopg.Connection[Any], excluded: tuple[str, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, table in conn.execute(TABLES, [list(excluded)]).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        counts[table_key(schema, table)] = int(row[0])
    return counts


def compare_counts(expected: dict[str, int], restored: dict[str, int]) -> list[str]:
    """Every difference between a backup's row counts and a restore's, named; [] when they are equal."""
    problems = []
    for key, count in sorted(expected.items()):
        if key not in restored:
            problems.append(f"table {key}: missing after restore")
        elif restored[key] != count:
            problems.append(f"table {key}: {restored[key]} rows restored, {count} expected")
    problems.extend(f"table {key}: restored but not in the backup" for key in sorted(set(restored) - set(expected)))
    return problems
