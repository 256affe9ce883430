"""Operation `alter_column_type`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    lit,
    rel,
)
from wesley.sqltext import column_type, quote_ident
from wesley.targets.sqlnames import format_type


def alter_column_type(change: Change, ctx: Context, rewrites: bool) -> list[Draft]:
    old: Column = change.old
    new: Column = change.new
    where = f"{change.table}.{new.name}"
    if rewrites and not ctx.refuse(
        change,
        f"changes the type of {where} from {old.type} to {new.type}: rewrites the table "
        "under an ACCESS EXCLUSIVE lock (reads and writes blocked for its duration)",
    ):
        return []
    table, c = quote_ident(change.table), quote_ident(new.name)
    guard = (
        f"SELECT COALESCE((SELECT format_type(atttypid, atttypmod) = {lit(format_type(new))} "
        f"FROM pg_attribute WHERE attrelid = {rel(change.table)} AND attname = {lit(new.name)}),"
        " false)"
    )
    return [
        Draft(
            "contract" if rewrites else "switch",
            "alter_column_type",
            f"ALTER TABLE {table} ALTER COLUMN {c} TYPE {column_type(new)} "
            f"USING {c}::{column_type(new)}",
            guard,
            f"{where} becomes {new.type}",
            table=change.table,
            column=new.name,
            destructive=rewrites,
            risk=30 if rewrites else 0,
            notes=(
                "rewrites the table and rebuilds its indexes: schedule a window or "
                "migrate through a new column",
            )
            if rewrites
            else (),
        )
    ]
