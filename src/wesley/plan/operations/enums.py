"""Enum types: create, add a value (in order), drop."""

from __future__ import annotations

from wesley.ir import Enum
from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft, lit
from wesley.sqltext import quote_ident, quote_literal
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def create_enum(change: Change, ctx: Context) -> list[Draft]:
    e: Enum = change.new
    name = quote_ident(e.name)
    values = ", ".join(quote_literal(v) for v in e.values)
    return [
        Draft(
            "expand",
            "create_enum",
            f"CREATE TYPE {name} AS ENUM ({values})",
            f"SELECT to_regtype({lit(name)}) IS NOT NULL",
            f"new enum {e.name}",
        ),
        Draft(
            "expand",
            "comment",
            f"COMMENT ON TYPE {name} IS {uid_comment(e.uid)}",
            f"SELECT obj_description(to_regtype({lit(name)}), 'pg_type') IS NOT DISTINCT FROM "
            f"{lit(UID_COMMENT_PREFIX + e.uid)}",
            f"record the uid of enum {e.name}",
        ),
    ]


def add_enum_value(change: Change, ctx: Context) -> list[Draft]:
    e: Enum = change.new
    value = change.detail
    i = e.values.index(value)
    place = (
        f" AFTER {quote_literal(e.values[i - 1])}"
        if i > 0
        else f" BEFORE {quote_literal(e.values[1])}"
        if len(e.values) > 1
        else ""
    )
    sql = f"ALTER TYPE {quote_ident(e.name)} ADD VALUE IF NOT EXISTS {quote_literal(value)}{place}"
    guard = (
        f"SELECT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = to_regtype("
        f"{lit(quote_ident(e.name))}) AND enumlabel = {lit(value)})"
    )
    return [Draft("expand", "add_enum_value", sql, guard, f"enum {e.name} gains {value}")]


def drop_enum(change: Change, ctx: Context) -> list[Draft]:
    e: Enum = change.old
    if not ctx.refuse(change, f"drops enum type {e.name}"):
        return []
    return [
        Draft(
            "contract",
            "drop_enum",
            f"DROP TYPE {quote_ident(e.name)}",
            f"SELECT to_regtype({lit(quote_ident(e.name))}) IS NULL",
            f"enum {e.name} is no longer in the schema",
            destructive=True,
            risk=10,
        )
    ]


def drop_enum_value(change: Change, ctx: Context) -> list[Draft]:
    ctx.refuse(
        change,
        f"removes value(s) {change.detail} from enum {change.table}: PostgreSQL cannot drop an "
        "enum value; rows holding it would have to be migrated and the type recreated by hand",
    )
    return []
