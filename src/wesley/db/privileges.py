"""Privileges a run needs beyond owning the schema, checked before any step runs."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR, PUBLIC
from wesley.sqltext import quote_ident, quote_literal
from wesley.targets.pgtap import PROBE_ROLE, needs_probe_role


def check_probe_role(conn: psycopg.Connection[Any], ir: IR) -> None:
    """The pgTAP suite's RLS probes create a role and switch to it (granting it to the current
    user first, inside the suite's transaction): that takes SUPERUSER or CREATEROLE."""
    if not needs_probe_role(ir):
        return
    row = conn.execute(
        "SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if row is None or row[1] or row[2]:
        return
    raise WesleyError(
        "PRIVILEGE_MISSING",
        f"role {row[0]} has neither CREATEROLE nor SUPERUSER: the pgTAP suite's RLS probes "
        f"create the role {PROBE_ROLE} and run as it, inside a transaction that rolls back",
        f"as a superuser: ALTER ROLE {row[0]} CREATEROLE; or run as a role that has it. "
        "Nothing was applied",
        exit_code=ExitCode.EXECUTION_FAILED,
    )


def schema_roles(*irs: IR | None) -> list[str]:
    """Roles the schemas grant to or name in a policy (PUBLIC is everyone, no role), sorted."""
    roles: set[str] = set()
    for ir in irs:
        for t in ir.tables if ir else []:
            roles.update(g.role for g in t.grants)
            roles.update(g.role for c in t.columns for g in c.grants)
            roles.update(r for p in t.policies for r in p.roles)
        if ir is not None:
            roles.update(r for f in ir.functions for r in f.grants)
    return sorted(roles - {PUBLIC})


def missing_roles(conn: psycopg.Connection[Any], roles: list[str]) -> list[str]:
    if not roles:
        return []
    have = {
        str(r[0])
        for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles,)
        ).fetchall()
    }
    return [r for r in roles if r not in have]


def check_roles(conn: psycopg.Connection[Any], ir: IR) -> None:
    """`deploy` (and `up`): every role the schema grants to must exist on the target before
    any step runs; Wesley does not create a production database's roles."""
    missing = missing_roles(conn, schema_roles(ir))
    if not missing:
        return
    names = ", ".join(missing)
    raise WesleyError(
        "ROLE_MISSING",
        f"the schema grants to (or has policies for) role{'s' if len(missing) > 1 else ''} "
        f"{names}, which the target database does not have",
        "create "
        + ("it" if len(missing) == 1 else "them")
        + " first (e.g. "
        + "; ".join(f"CREATE ROLE {quote_ident(r)} NOLOGIN" for r in missing)
        + "), or take them out of @wes_grant / the policies. Nothing was applied",
        exit_code=ExitCode.EXECUTION_FAILED,
        details={"roles": missing},
    )


def create_missing_roles(conn: psycopg.Connection[Any], roles: list[str]) -> list[str]:
    """A rehearsal's shadow stands in for the target, whose roles it lacks: create the
    missing ones NOLOGIN (they can own no session, only privileges). Returns those created."""
    missing = missing_roles(conn, roles)
    for role in missing:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            + quote_literal(role)
            + ") THEN CREATE ROLE "
            + quote_ident(role)
            + " NOLOGIN; END IF; END $$"
        )
    conn.commit()
    return missing
