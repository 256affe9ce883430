"""Indexes on existing tables: CREATE/DROP INDEX CONCURRENTLY (never a write-blocking build)."""

from __future__ import annotations

from wesley.ir import Index
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_no_relation,
    guard_valid_index,
    table_of,
)
from wesley.sqltext import quote_ident
from wesley.targets.postgres import create_index


def add_index(change: Change, ctx: Context) -> list[Draft]:
    ix: Index = change.new
    t = table_of(ctx.new, change.table)
    return [
        Draft(
            "expand",
            "create_index",
            create_index(t, ix, concurrently=True),
            guard_valid_index(ix.name),
            f"new index {ix.name}, built without blocking writes (an INVALID leftover of a "
            "failed build is dropped and rebuilt)",
            table=t.name,
        )
    ]


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
