"""Operation `drop_not_null`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_not_null,
)
from wesley.sqltext import quote_ident


def drop_not_null(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "switch",
            "drop_not_null",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
            f"{quote_ident(str(change.column))} DROP NOT NULL",
            f"SELECT NOT ({guard_not_null(change.table, str(change.column))[7:]})",
            f"{change.table}.{change.column} becomes nullable",
            table=change.table,
            column=change.column,
        )
    ]
