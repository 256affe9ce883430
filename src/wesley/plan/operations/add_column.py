"""Operation `add_column`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Column
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    IDEMPOTENT,
    Context,
    Draft,
    guard_column,
    guard_column_comment,
    table_of,
)
from wesley.plan.operations.shared import (
    VOLATILE_HINT,
    backfill_drafts,
    not_null_drafts,
    trigger_drafts,
)
from wesley.sqltext import column_type, quote_ident
from wesley.targets.postgres import generated_clause
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def add_column(change: Change, ctx: Context, volatile: bool) -> list[Draft]:
    col: Column = change.new
    t = table_of(ctx.new, change.table)
    table, c = quote_ident(t.name), quote_ident(col.name)
    where = f"{t.name}.{col.name}"
    drafts: list[Draft] = []
    if col.generated is not None:
        return _add_generated(change, ctx, col)
    if (
        not col.nullable
        and col.default is None
        and not ctx.refuse(
            change,
            f"new NOT NULL column {where} has no default: existing rows have no value for it",
        )
    ):
        return []
    # PostgreSQL >= 11 stores a non-volatile default once and gives it to every existing row
    # without a rewrite or a scan: such a column cannot hold a NULL, so it is NOT NULL at once
    # and there is nothing to backfill or validate
    fast = col.default is not None and not volatile and ctx.server_version >= 110000
    at_once = fast and not col.nullable
    add = f"ALTER TABLE {table} ADD COLUMN {c} {column_type(col)}"
    if at_once:
        add += " NOT NULL"
    if col.default is not None and not volatile:
        add += f" DEFAULT {col.default.sql}"
    if at_once:
        why = (
            f"new column {where}: existing rows get the default from the catalog, so it is "
            "NOT NULL at once, without a rewrite or a scan (PostgreSQL >= 11)"
        )
    else:
        why = f"new column {where}, nullable first" + (
            "; a non-volatile default is stored once, no rewrite (PostgreSQL >= 11)" if fast else ""
        )
    drafts.append(
        Draft(
            "expand",
            "add_column",
            add,
            guard_column(t.name, col.name),
            why,
            table=t.name,
            column=col.name,
            risk=25 if not col.nullable and col.default is None else 0,
        )
    )
    if col.default is not None and volatile:
        drafts.append(
            Draft(
                "expand",
                "set_default",
                f"ALTER TABLE {table} ALTER COLUMN {c} SET DEFAULT {col.default.sql}",
                IDEMPOTENT,
                f"new rows get the default; {VOLATILE_HINT}",
                table=t.name,
                column=col.name,
            )
        )
        drafts += backfill_drafts(
            t,
            col,
            col.default.sql,
            ctx.batch_size,
            f"fill existing rows of {where} in batches of {ctx.batch_size}",
        )
    drafts.append(
        Draft(
            "expand",
            "comment",
            f"COMMENT ON COLUMN {table}.{c} IS {uid_comment(col.uid)}",
            guard_column_comment(t.name, col.name, UID_COMMENT_PREFIX + col.uid),
            f"record the uid of {where}",
            table=t.name,
            column=col.name,
        )
    )
    if col.updated_at:
        drafts.extend(trigger_drafts(t, col.name))
    if not col.nullable and not at_once:
        drafts.extend(not_null_drafts(t, col, f"{where} is NOT NULL"))
    return drafts


def _add_generated(change: Change, ctx: Context, col: Column) -> list[Draft]:
    """A stored generated column is computed for every existing row as it is added: a rewrite
    under ACCESS EXCLUSIVE, with no zero-downtime form. Refused unless --allow-destructive."""
    t = table_of(ctx.new, change.table)
    table, c = quote_ident(t.name), quote_ident(col.name)
    where = f"{t.name}.{col.name}"
    risk = (
        f"new generated column {where}: PostgreSQL computes it for every existing row, "
        f"rewriting {t.name} under ACCESS EXCLUSIVE (reads and writes wait); there is no "
        "zero-downtime way to add one"
    )
    if not ctx.refuse(change, risk):
        return []
    null = "" if col.nullable else " NOT NULL"
    return [
        Draft(
            "expand",
            "add_column",
            f"ALTER TABLE {table} ADD COLUMN {c} {column_type(col)}{null} "
            f"{generated_clause(col.generated or '')}",
            guard_column(t.name, col.name),
            risk,
            table=t.name,
            column=col.name,
            risk=50,
            destructive=True,  # planned only with --allow-destructive: a rewrite, said so
        ),
        Draft(
            "expand",
            "comment",
            f"COMMENT ON COLUMN {table}.{c} IS {uid_comment(col.uid)}",
            guard_column_comment(t.name, col.name, UID_COMMENT_PREFIX + col.uid),
            f"record the uid of {where}",
            table=t.name,
            column=col.name,
        ),
    ]
