"""Operation `add_check`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    table_of,
)
from wesley.plan.operations.shared import check_drafts


def add_check(change: Change, ctx: Context) -> list[Draft]:
    return check_drafts(table_of(ctx.new, change.table), change.new)
