"""Run an SQL script one statement at a time (never as one multi-statement string), so an
error names the statement that failed. Each goes through the extended protocol, which
PostgreSQL refuses to run more than one statement in."""

from __future__ import annotations

from typing import Any

import psycopg
from pglast import split

from wesley.db.session import run_one
from wesley.errors import ExitCode, WesleyError


def statements(script: str) -> list[str]:
    """The script's statements, split by PostgreSQL's own parser (pglast)."""
    return [str(s) for s in split(script)]


def apply_script(conn: psycopg.Connection[Any], script: str, name: str = "script") -> int:
    """Execute every statement of `script` in order; returns how many ran."""
    count = 0
    for sql in statements(script):
        try:
            run_one(conn, sql)
        except psycopg.Error as exc:
            raise WesleyError(
                "SQL_FAILED",
                f"{name}: statement {count + 1} failed: {exc.diag.message_primary or exc}",
                f"the statement was: {sql[:200]}",
                exit_code=ExitCode.EXECUTION_FAILED,
                details={"sqlstate": exc.sqlstate, "statement": sql},
            ) from None
        count += 1
    return count
