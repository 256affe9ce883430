"""Who a behaviour change reaches: the roles that can read or write a table and that row-level
security will filter (not superusers, not BYPASSRLS, not the owner unless FORCE)."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.db.session import run_one

ROLES_SQL = """
SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END
FROM pg_class c
CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE c.oid = to_regclass(%s)
  AND (a.grantee = 0 OR (NOT r.rolsuper AND NOT r.rolbypassrls))
  AND (a.grantee <> c.relowner OR %s)
ORDER BY 1
"""


def affected_roles(conn: psycopg.Connection[Any], table: str, force: bool) -> list[str]:
    """Roles holding a privilege on `table` whose rows RLS will filter; `PUBLIC` when every
    role may use it."""
    ident = '"' + table.replace('"', '""') + '"'
    return [str(r[0]) for r in run_one(conn, ROLES_SQL, (ident, force)).fetchall()]
