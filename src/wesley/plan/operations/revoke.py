"""Operation `revoke`: privileges a role loses on a table or one of its columns.

Catalog only, like `grant`. In the contract phase: the application version still running may
use the access until the new version is the one live."""

from __future__ import annotations

from wesley.ir import PUBLIC, Grant
from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft, guard_privileges
from wesley.sqltext import grant_sql


def revoke(change: Change, ctx: Context) -> list[Draft]:
    g: Grant = change.old
    where = f"{change.table}.{change.column}" if change.column else change.table
    who = "everyone (PUBLIC)" if g.role == PUBLIC else f"role {g.role}"
    return [
        Draft(
            "contract",
            "revoke",
            grant_sql(change.table, g, change.column, revoke=True),
            guard_privileges(change.table, change.column, g.role, g.privileges, held=False),
            f"{who} no longer may {', '.join(g.privileges)} on {where}",
            table=change.table,
            column=change.column,
        )
    ]
