"""Operation `grant`: privileges a role gains on a table or one of its columns.

Catalog only (an ACL row; on PostgreSQL 16+ an ACCESS SHARE lock on the table, see
docs/locks.md). New access comes in the switch phase, with the policies that limit it. A
column grant that a table-level REVOKE of the same plan takes away (PostgreSQL revokes the
column privileges with the table's) is granted again after it, in the contract (`regrant`).
"""

from __future__ import annotations

from wesley.ir import PUBLIC, Grant
from wesley.plan.diff import Change
from wesley.plan.models import Phase
from wesley.plan.operations.base import Context, Draft, guard_privileges
from wesley.sqltext import grant_sql


def grant(change: Change, ctx: Context) -> list[Draft]:
    g: Grant = change.new
    again = change.detail == "regrant"
    phase: Phase = "contract" if again else "switch"
    where = f"{change.table}.{change.column}" if change.column else change.table
    who = "everyone (PUBLIC)" if g.role == PUBLIC else f"role {g.role}"
    why = f"{who} may {', '.join(g.privileges)} on {where}"
    return [
        Draft(
            phase,
            "regrant" if again else "grant",
            grant_sql(change.table, g, change.column),
            guard_privileges(change.table, change.column, g.role, g.privileges, held=True),
            why + (" again (the table-level REVOKE took it off the column)" if again else ""),
            table=change.table,
            column=change.column,
        )
    ]
