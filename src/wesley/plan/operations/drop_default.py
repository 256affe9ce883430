"""Operation `drop_default`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    IDEMPOTENT,
    Context,
    Draft,
)
from wesley.sqltext import quote_ident


def drop_default(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "switch",
            "drop_default",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
            f"{quote_ident(str(change.column))} DROP DEFAULT",
            IDEMPOTENT,
            f"{change.table}.{change.column} has no default any more",
            table=change.table,
            column=change.column,
        )
    ]
