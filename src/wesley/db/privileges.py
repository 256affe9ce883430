"""Privileges a run needs beyond owning the schema, checked before any step runs."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR
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
