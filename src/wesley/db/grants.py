"""The privileges granted on a schema's tables and columns, read from their ACLs, as
`role: PRIVILEGE, ...` lines per table (`role: SELECT (column)` for a column's), the form
`wesley.drift` compares. The owner's own privileges and those of superusers' defaults are
not grants the schema makes, so they are left out."""

from __future__ import annotations

from typing import Any

import psycopg

_TABLE_ACL = """
SELECT c.relname, COALESCE(r.rolname, 'PUBLIC'), string_agg(a.privilege_type, ', '
       ORDER BY a.privilege_type)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.grantee <> c.relowner
GROUP BY c.relname, r.rolname
"""
_COLUMN_ACL = """
SELECT c.relname, att.attname, COALESCE(r.rolname, 'PUBLIC'), string_agg(a.privilege_type,
       ', ' ORDER BY a.privilege_type)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
CROSS JOIN LATERAL aclexplode(att.attacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.grantee <> c.relowner
GROUP BY c.relname, att.attname, r.rolname
"""


def read_grants(conn: psycopg.Connection[Any], schema: str = "public") -> dict[str, list[str]]:
    """table → sorted grant lines."""
    out: dict[str, list[str]] = {}
    for table, role, privileges in conn.execute(_TABLE_ACL, (schema,)).fetchall():
        out.setdefault(table, []).append(f"{role}: {privileges}")
    for table, column, role, privileges in conn.execute(_COLUMN_ACL, (schema,)).fetchall():
        out.setdefault(table, []).append(f"{role}: {privileges} ({column})")
    return {t: sorted(lines) for t, lines in out.items()}
