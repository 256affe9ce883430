"""Operation `add_enum_value`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Enum
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    lit,
)
from wesley.sqltext import quote_ident, quote_literal


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
