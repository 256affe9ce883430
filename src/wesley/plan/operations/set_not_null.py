"""Operation `set_not_null`: an existing column becomes NOT NULL.

With a default, the rows that are NULL are filled with it first (batched backfill), then the
helper check proves the column. Without one, nothing can fill them: the change is planned
only when `plan --from-db` counted no NULL rows, refused (with the count) when it found some,
and otherwise needs --allow-destructive (the rehearsal and the executor then find out)."""

from __future__ import annotations

from dataclasses import replace

from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft, table_of
from wesley.plan.operations.shared import backfill_drafts, not_null_drafts


def set_not_null(change: Change, ctx: Context) -> list[Draft]:
    t = table_of(ctx.new, change.table)
    col = change.new
    where = f"{change.table}.{change.column}"
    why = f"{where} becomes NOT NULL"
    if col.default is not None:
        fill = backfill_drafts(
            t,
            col,
            col.default.sql,
            ctx.batch_size,
            f"fill the NULLs of {where} with its default, in batches of {ctx.batch_size}",
        )
        return fill + not_null_drafts(t, col, why)
    nulls = ctx.facts.null_rows.get((t.name, col.name))
    if nulls is None:
        if not ctx.refuse(
            change,
            f"{where} becomes NOT NULL without a default: a row that is NULL would make it fail; "
            "`plan --from-db` counts them, or give it a @wes_default to fill them with",
        ):
            return []
    elif nulls > 0:
        ctx.block(
            change,
            f"{nulls} row{'s' if nulls != 1 else ''} of {where} "
            f"{'are' if nulls != 1 else 'is'} NULL and the column has no default to fill "
            "them with: set them first, or give it a @wes_default",
        )
        return []
    drafts = not_null_drafts(t, col, why)
    if nulls == 0:
        drafts[0] = replace(drafts[0], notes=("plan --from-db counted 0 NULL rows",))
    return drafts
