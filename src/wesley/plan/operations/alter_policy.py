"""Operation `alter_policy`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Policy
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
)
from wesley.sqltext import quote_ident


def alter_policy(change: Change, ctx: Context) -> list[Draft]:
    """Same name, command and kind: ALTER POLICY in place (no window without a policy)."""
    p: Policy = change.new
    table = quote_ident(change.table)
    to = ", ".join(quote_ident(r) for r in p.roles) if p.roles else "PUBLIC"
    sql = f"ALTER POLICY {quote_ident(p.name)} ON {table} TO {to}"
    if p.using:
        sql += f" USING ({p.using})"
    if p.check:
        sql += f" WITH CHECK ({p.check})"
    return [
        Draft(
            "switch",
            "alter_policy",
            sql,
            "SELECT false",
            f"policy {p.name} changes its rule",
            table=change.table,
        )
    ]
