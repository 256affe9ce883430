"""Operation `set_not_null`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    table_of,
)
from wesley.plan.operations.shared import not_null_drafts


def set_not_null(change: Change, ctx: Context) -> list[Draft]:
    t = table_of(ctx.new, change.table)
    return not_null_drafts(t, change.new, f"{change.table}.{change.column} becomes NOT NULL")
