"""Operation `drop_enum`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Enum
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    lit,
)
from wesley.sqltext import quote_ident


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
