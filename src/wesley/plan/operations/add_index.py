"""Operation `add_index`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Index
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_valid_index,
    table_of,
)
from wesley.plan.operations.shared import index_phase
from wesley.targets.postgres import create_index


def add_index(change: Change, ctx: Context) -> list[Draft]:
    ix: Index = change.new
    t = table_of(ctx.new, change.table)
    return [
        Draft(
            index_phase(ctx.new, t.name, ix.columns) if ix.unique and not ix.where else "validate",
            "create_index",
            create_index(t, ix, concurrently=True),
            guard_valid_index(ix.name),
            f"new index {ix.name}, built without blocking writes (an INVALID leftover of a "
            "failed build is dropped and rebuilt)",
            table=t.name,
        )
    ]
