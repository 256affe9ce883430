"""Operation `drop_column`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column,
)
from wesley.sqltext import quote_ident


def drop_column(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.old
    where = f"{change.table}.{col.name}"
    if not ctx.refuse(change, f"drops column {where} and its data"):
        return []
    return [
        Draft(
            "contract",
            "drop_column",
            f"ALTER TABLE {quote_ident(change.table)} DROP COLUMN IF EXISTS "
            f"{quote_ident(col.name)}",
            guard_column(change.table, col.name, exists=False),
            f"{where} is no longer in the schema",
            table=change.table,
            column=col.name,
            destructive=True,
            risk=25,
            notes=(
                "ship the application code that stops using the column in an earlier "
                "deploy: this drop belongs after it, never together with it",
            ),
        )
    ]
