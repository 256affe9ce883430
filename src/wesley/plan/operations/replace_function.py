"""Operation `replace_function`: an `@wes_rpc` function whose body changed (a column added,
dropped or renamed, a default changed...): CREATE OR REPLACE, which keeps its grants."""

from __future__ import annotations

from wesley.ir import Function
from wesley.plan.diff import Change
from wesley.plan.operations.base import IDEMPOTENT, Context, Draft
from wesley.targets.rpc import comment_sql, create_sql


def replace_function(change: Change, ctx: Context) -> list[Draft]:
    f: Function = change.new
    old: Function = change.old
    drafts = [
        Draft(
            "expand",
            "create_function",
            create_sql(f),
            IDEMPOTENT,
            f"{f.name} follows the table's new shape",
            table=f.table,
        )
    ]
    if old.uid != f.uid:
        drafts.append(
            Draft("expand", "comment", comment_sql(f), IDEMPOTENT, f"the uid of {f.name}", f.table)
        )
    return drafts
