"""Operation `set_table_comment`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_table_comment,
)
from wesley.sqltext import quote_ident
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def set_table_comment(change: Change, ctx: Context) -> list[Draft]:
    t: Table = change.new
    return [
        Draft(
            "expand",
            "comment",
            f"COMMENT ON TABLE {quote_ident(t.name)} IS {uid_comment(t.uid)}",
            guard_table_comment(t.name, UID_COMMENT_PREFIX + t.uid),
            f"the uid of {t.name}",
            table=t.name,
        )
    ]
