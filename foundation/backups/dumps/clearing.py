"""The SQL that empties what a dump covers before it is restored over the live database, run inside the restore's
own transaction (pipe.py): objects made after the backup (a newer migration's tables, views, types, functions) go;
the excluded schemas (the release's own state) and the public schema itself (its owner and privileges) stay."""

from __future__ import annotations


def _literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


def clear_sql(excluded: tuple[str, ...]) -> str:
    """Drops everything in the schemas a dump covers (all but the excluded and system ones): other schemas
    whole, the public schema's contents (the schema itself stays, with its owner and privileges)."""
    array = "ARRAY[" + ", ".join(_literal(name) for name in excluded) + "]::text[]"
    not_member = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass"
        " AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )
    return f"""
DO $golive_clear$
DECLARE
    excluded text[] := {array};
    statements text[];
    statement text;
BEGIN
    SELECT coalesce(array_agg(stmt ORDER BY ord, name), '{{}}') INTO statements FROM (
        SELECT 1 AS ord, n.nspname::text AS name, format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname) AS stmt
        FROM pg_namespace n
        WHERE n.nspname <> 'public' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
          AND n.nspname <> ALL (excluded) AND {not_member.format(catalog="pg_namespace", alias="n")}
        UNION ALL
        SELECT 2, e.extname::text, format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname)
        FROM pg_extension e WHERE e.extnamespace = 'public'::regnamespace
        UNION ALL
        SELECT 3, c.relname::text, format('DROP %s IF EXISTS public.%I CASCADE',
            CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                           WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.relname)
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND {not_member.format(catalog="pg_class", alias="c")}
        UNION ALL
        SELECT 4, p.proname::text, format('DROP ROUTINE IF EXISTS public.%I(%s) CASCADE', p.proname,
                                          pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND {not_member.format(catalog="pg_proc", alias="p")}
        UNION ALL
        SELECT 5, t.typname::text, format('DROP %s IF EXISTS public.%I CASCADE',
                                          CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname)
        FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r', 'c')
          AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
          AND {not_member.format(catalog="pg_type", alias="t")}
    ) AS drops;
    FOREACH statement IN ARRAY statements LOOP
        EXECUTE statement;
    END LOOP;
END
$golive_clear$;
"""
