"""Operation `drop_table`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_no_relation,
)
from wesley.sqltext import quote_ident


def drop_table(change: Change, ctx: Context) -> list[Draft]:
    t: Table = change.old
    if not ctx.refuse(change, f"drops table {t.name} and every row in it"):
        return []
    return [
        Draft(
            "contract",
            "drop_table",
            f"DROP TABLE {quote_ident(t.name)}",
            guard_no_relation(t.name),
            f"{t.name} is no longer in the schema",
            table=t.name,
            destructive=True,
            risk=40,
            notes=("deploy only after no code reads or writes this table",),
        )
    ]
