"""Operation `drop_column`: the steps for one change of this kind."""

from __future__ import annotations

from dataclasses import replace

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column,
)
from wesley.plan.operations.drop_not_null import drop_not_null
from wesley.sqltext import quote_ident


def drop_column(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.old
    where = f"{change.table}.{col.name}"
    if not ctx.refuse(change, f"drops column {where} and its data"):
        return []
    relax: list[Draft] = []
    if ctx.flight is not None and not col.nullable and col.default is None and not col.generated:
        # while both versions run, the new one writes rows without this column: a NOT NULL
        # with no default would refuse every insert it makes until the contract drops it
        relax = [
            replace(d, why=f"{where} becomes nullable: the new version does not write it")
            for d in drop_not_null(Change("drop_not_null", change.table, col.name), ctx)
        ]
    return [
        *relax,
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
        ),
    ]
