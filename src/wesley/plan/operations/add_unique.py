"""Operation `add_unique`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    table_of,
)
from wesley.plan.operations.shared import index_phase, unique_drafts


def add_unique(change: Change, ctx: Context) -> list[Draft]:
    t = table_of(ctx.new, change.table)
    return unique_drafts(t, change.new, index_phase(ctx.new, t.name, change.new.columns))
