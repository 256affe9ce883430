"""Operation `set_column_comment`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column_comment,
)
from wesley.sqltext import quote_ident
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def set_column_comment(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.new
    return [
        Draft(
            "expand",
            "comment",
            f"COMMENT ON COLUMN {quote_ident(change.table)}.{quote_ident(col.name)} IS "
            f"{uid_comment(col.uid)}",
            guard_column_comment(change.table, col.name, UID_COMMENT_PREFIX + col.uid),
            f"the uid of {change.table}.{col.name}",
            table=change.table,
            column=col.name,
        )
    ]
