"""Operation `set_default`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    IDEMPOTENT,
    Context,
    Draft,
)
from wesley.sqltext import quote_ident


def set_default(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.new
    assert col.default is not None
    return [
        Draft(
            "expand",
            "set_default",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN {quote_ident(col.name)} "
            f"SET DEFAULT {col.default.sql}",
            IDEMPOTENT,
            f"new default for {change.table}.{col.name} (existing rows keep their value)",
            table=change.table,
            column=col.name,
        )
    ]
