"""Operation `alter_generated`: a column becomes generated, stops being generated, or its
expression changes. PostgreSQL 15 and 16 cannot do any of these in place (17's SET EXPRESSION
rewrites the table under ACCESS EXCLUSIVE), so the plan refuses it whatever the flags."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft


def alter_generated(change: Change, ctx: Context) -> list[Draft]:
    old, new = change.old, change.new
    where = f"{change.table}.{change.column}"
    if new.generated is None:
        what = f"{where} stops being generated"
    elif old.generated is None:
        what = f"{where} becomes generated"
    else:
        what = f"the expression of the generated column {where} changes"
    ctx.block(
        change,
        f"{what}: PostgreSQL cannot change that in place without rewriting the table under "
        "ACCESS EXCLUSIVE; add a new field with the new expression (and drop the old one in a "
        "later release)",
    )
    return []
