"""Operation `drop_index`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Index
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_no_relation,
)
from wesley.sqltext import quote_ident


def drop_index(change: Change, ctx: Context) -> list[Draft]:
    ix: Index = change.old
    return [
        Draft(
            "contract",
            "drop_index",
            f"DROP INDEX CONCURRENTLY IF EXISTS {quote_ident(ix.name)}",
            guard_no_relation(ix.name),
            f"index {ix.name} is no longer in the schema",
            table=change.table,
        )
    ]
