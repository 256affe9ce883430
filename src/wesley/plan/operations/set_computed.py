"""Operation `set_computed`: a column starts or stops being maintained by triggers
(`@wes_computed`), or what maintains it changes. Trigger functions and triggers are created
(idempotent: CREATE OR REPLACE), the trigger's comment records the spec, and existing rows are
brought up to date in batches (a count recounted, a deterministic expression evaluated); a
volatile expression (`now()`) is left for the next write of each row."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import IDEMPOTENT, Context, Draft, table_of
from wesley.plan.operations.shared import backfill_spec
from wesley.sqltext import quote_ident
from wesley.targets.computed import drop_statements, recount_expr, statements


def set_computed(change: Change, ctx: Context) -> list[Draft]:
    old: Column | None = change.old
    new: Column = change.new
    t = table_of(ctx.new, change.table)
    where = f"{t.name}.{new.name}"
    drafts: list[Draft] = []
    if old is not None and old.computed is not None:
        drafts += [
            Draft(
                "expand",
                "drop_trigger",
                sql,
                IDEMPOTENT,
                f"{where}: the old maintenance",
                table=t.name,
                column=new.name,
            )
            for sql in drop_statements(ctx.old.table(t.name) or t, old)
        ]
    if new.computed is None:
        return drafts
    drafts += [
        Draft(
            "expand",
            "create_trigger",
            sql,
            IDEMPOTENT,
            f"{where} is maintained by triggers",
            table=t.name,
            column=new.name,
        )
        for sql in statements(ctx.new, t, new)
    ]
    fresh = ctx.old.table(t.name) is None or (old is None and ctx.old.table(t.name) is None)
    expr = recount_expr(ctx.new, t, new)
    if expr is not None and not fresh:
        c = quote_ident(new.name)
        sweep, spec = backfill_spec(
            t, new, expr, ctx.batch_size, pending=f"{c} IS DISTINCT FROM {expr}"
        )
        drafts.append(
            Draft(
                "backfill",
                "backfill",
                sweep,
                f"SELECT NOT EXISTS (SELECT 1 FROM {quote_ident(t.name)} WHERE {c} IS DISTINCT "
                f"FROM {expr})",
                f"bring existing rows of {where} up to date in batches of {ctx.batch_size}",
                table=t.name,
                column=new.name,
                backfill=spec,
            )
        )
    return drafts
