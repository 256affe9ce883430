"""Operation `create_enum`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Enum
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    lit,
)
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
