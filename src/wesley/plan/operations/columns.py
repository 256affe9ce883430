"""Columns: add (nullable first; a volatile default is set for new rows and backfilled in
batches; NOT NULL through the CHECK trick), drop, rename, type change, nullability,
defaults, uid comments."""

from __future__ import annotations

from wesley.ir import Column, Table
from wesley.naming import constraint_name
from wesley.plan.diff import Change
from wesley.plan.models import Backfill
from wesley.plan.operations.base import (
    IDEMPOTENT,
    Context,
    Draft,
    guard_column,
    guard_column_comment,
    guard_constraint,
    guard_not_null,
    guard_table_comment,
    guard_validated,
    lit,
    rel,
    table_of,
)
from wesley.plan.operations.tables import trigger_drafts
from wesley.sqltext import column_type, quote_ident
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, format_type, uid_comment

VOLATILE_HINT = "a volatile default would rewrite the table under an ACCESS EXCLUSIVE lock"


def not_null_drafts(t: Table, col: Column, why: str) -> list[Draft]:
    """SET NOT NULL without a long lock: a NOT VALID check (instant), VALIDATE (no write
    block), then SET NOT NULL, which PostgreSQL ≥ 12 proves from the valid check without a
    scan, then the helper check goes."""
    table, c = quote_ident(t.name), quote_ident(col.name)
    check = constraint_name(t.name, [col.name], "not_null")
    return [
        Draft(
            "expand",
            "add_check",
            f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(check)} CHECK ({c} IS NOT NULL) "
            "NOT VALID",
            f"{guard_constraint(t.name, check)} OR ({guard_not_null(t.name, col.name)[7:]})",
            f"{why}: a NOT VALID check is enforced for new rows at once",
            table=t.name,
            column=col.name,
        ),
        Draft(
            "validate",
            "validate_check",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote_ident(check)}",
            f"{guard_validated(t.name, check)} OR ({guard_not_null(t.name, col.name)[7:]})",
            "prove existing rows have a value without blocking writes",
            table=t.name,
            column=col.name,
            notes=("fails if a row is still NULL: backfill first",),
        ),
        Draft(
            "switch",
            "set_not_null",
            f"ALTER TABLE {table} ALTER COLUMN {c} SET NOT NULL",
            guard_not_null(t.name, col.name),
            "catalog only: the valid check already proves it (PostgreSQL >= 12)",
            table=t.name,
            column=col.name,
            valid_not_null=frozenset({col.name}),
        ),
        Draft(
            "switch",
            "drop_not_null_check",
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(check)}",
            guard_constraint(t.name, check, exists=False),
            "the helper check is redundant once the column is NOT NULL",
            table=t.name,
            column=col.name,
        ),
    ]


def _backfill(t: Table, col: Column, expr: str, batch: int) -> tuple[str, Backfill]:
    table, c = quote_ident(t.name), quote_ident(col.name)
    if t.primary_key:
        key = ", ".join(quote_ident(k) for k in t.primary_key)
        sweep = (
            f"UPDATE {table} SET {c} = {expr} WHERE ({key}) IN (SELECT {key} FROM {table} "
            f"WHERE {c} IS NULL ORDER BY {key} LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        )
    else:
        sweep = (
            f"UPDATE {table} SET {c} = {expr} WHERE ctid IN (SELECT ctid FROM {table} "
            f"WHERE {c} IS NULL LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        )
    if len(t.primary_key) != 1:
        return sweep, Backfill(batch_size=batch)
    k = quote_ident(t.primary_key[0])

    def page(lower: str) -> str:
        return (
            f"UPDATE {table} SET {c} = {expr} WHERE {k} IN (SELECT {k} FROM {table} "
            f"WHERE {lower}{c} IS NULL ORDER BY {k} LIMIT {batch} FOR UPDATE SKIP LOCKED) "
            f"RETURNING {k}"
        )

    return sweep, Backfill(
        batch_size=batch,
        key=t.primary_key[0],
        first_sql=page(""),
        next_sql=page(f"{k} > %(after)s AND "),
    )


def add_column(change: Change, ctx: Context, volatile: bool) -> list[Draft]:
    col: Column = change.new
    t = table_of(ctx.new, change.table)
    table, c = quote_ident(t.name), quote_ident(col.name)
    where = f"{t.name}.{col.name}"
    drafts: list[Draft] = []
    if (
        not col.nullable
        and col.default is None
        and not ctx.refuse(
            change,
            f"new NOT NULL column {where} has no default: existing rows have no value for it",
        )
    ):
        return []
    add = f"ALTER TABLE {table} ADD COLUMN {c} {column_type(col)}"
    if col.default is not None and not volatile:
        add += f" DEFAULT {col.default.sql}"
    drafts.append(
        Draft(
            "expand",
            "add_column",
            add,
            guard_column(t.name, col.name),
            f"new column {where}, nullable first"
            + (
                "; a non-volatile default is stored once, no rewrite (PostgreSQL >= 11)"
                if col.default is not None and not volatile
                else ""
            ),
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
        sweep, spec = _backfill(t, col, col.default.sql, ctx.batch_size)
        drafts.append(
            Draft(
                "backfill",
                "backfill",
                sweep,
                f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {c} IS NULL)",
                f"fill existing rows of {where} in batches of {ctx.batch_size}",
                table=t.name,
                column=col.name,
                backfill=spec,
            )
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
    if not col.nullable:
        drafts.extend(not_null_drafts(t, col, f"{where} is NOT NULL"))
    return drafts


def drop_column(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.old
    where = f"{change.table}.{col.name}"
    if not ctx.refuse(change, f"drops column {where} and its data"):
        return []
    return [
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
                "deploy only after the code that stops using the column is live: never "
                "in the same deploy",
            ),
        )
    ]


def rename_column(change: Change, ctx: Context) -> list[Draft]:
    old: Column = change.old
    new: Column = change.new
    return [
        Draft(
            "expand",
            "rename_column",
            f"ALTER TABLE {quote_ident(change.table)} RENAME COLUMN {quote_ident(old.name)} "
            f"TO {quote_ident(new.name)}",
            guard_column(change.table, new.name),
            f"@wes_renamedFrom: {old.name} is now {new.name} (data kept)",
            table=change.table,
            column=new.name,
            notes=("ship the code that uses the new name in the same release",),
        )
    ]


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


def set_not_null(change: Change, ctx: Context) -> list[Draft]:
    t = table_of(ctx.new, change.table)
    return not_null_drafts(t, change.new, f"{change.table}.{change.column} becomes NOT NULL")


def drop_not_null(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "switch",
            "drop_not_null",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
            f"{quote_ident(str(change.column))} DROP NOT NULL",
            f"SELECT NOT ({guard_not_null(change.table, str(change.column))[7:]})",
            f"{change.table}.{change.column} becomes nullable",
            table=change.table,
            column=change.column,
        )
    ]


def set_default(change: Change, ctx: Context) -> list[Draft]:
    col: Column = change.new
    assert col.default is not None
    return [
        Draft(
            "expand",
            "set_default",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN {quote_ident(col.name)} "
            f"SET DEFAULT {col.default.sql}",
            IDEMPOTENT,
            f"new default for {change.table}.{col.name} (existing rows keep their value)",
            table=change.table,
            column=col.name,
        )
    ]


def drop_default(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "switch",
            "drop_default",
            f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
            f"{quote_ident(str(change.column))} DROP DEFAULT",
            IDEMPOTENT,
            f"{change.table}.{change.column} has no default any more",
            table=change.table,
            column=change.column,
        )
    ]


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
