"""Operation `rename_column`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column,
)
from wesley.sqltext import quote_ident


def rename_column(change: Change, ctx: Context) -> list[Draft]:
    old: Column = change.old
    new: Column = change.new
    return [
        Draft(
            "contract",
            "rename_column",
            f"ALTER TABLE {quote_ident(change.table)} RENAME COLUMN {quote_ident(old.name)} "
            f"TO {quote_ident(new.name)}",
            guard_column(change.table, new.name),
            f"@wes_renamedFrom: {old.name} is now {new.name} (data kept)",
            table=change.table,
            column=new.name,
            notes=(
                "the new version uses the new name through its version schema from `deploy` "
                "on; the old one keeps the old name until this rename, at `deploy --complete`",
            ),
        )
    ]
