"""Operation `create_function`: a new `@wes_rpc` function, its uid comment and its grants.
PL/pgSQL bodies are not analysed at CREATE time, so none of these steps locks a table."""

from __future__ import annotations

from wesley.ir import Function
from wesley.plan.diff import Change
from wesley.plan.operations.base import IDEMPOTENT, Context, Draft
from wesley.targets.rpc import comment_sql, create_sql, grant_sql, revoke_sql


def function_drafts(f: Function, why: str) -> list[Draft]:
    drafts = [
        Draft("expand", "create_function", create_sql(f), IDEMPOTENT, why, table=f.table),
        Draft("expand", "comment", comment_sql(f), IDEMPOTENT, f"the uid of {f.name}", f.table),
    ]
    return drafts + grant_drafts(f, [])


def grant_drafts(f: Function, revoked: list[str]) -> list[Draft]:
    """PUBLIC may not call it (and no longer the roles in `revoked`); the table's
    `@wes_grant` roles may."""
    drafts = [
        Draft(
            "expand",
            "grant_function",
            revoke_sql(f, revoked or None),
            IDEMPOTENT,
            f"only the granted roles may call {f.name}",
            table=f.table,
        )
    ]
    grant = grant_sql(f)
    if grant:
        drafts.append(
            Draft(
                "expand",
                "grant_function",
                grant,
                IDEMPOTENT,
                f"{', '.join(f.grants)} may call {f.name}",
                table=f.table,
            )
        )
    return drafts


def create_function(change: Change, ctx: Context) -> list[Draft]:
    f: Function = change.new
    return function_drafts(f, f"{f.kind} function for {f.table} (@wes_rpc)")
