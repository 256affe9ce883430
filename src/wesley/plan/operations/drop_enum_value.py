"""Operation `drop_enum_value`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
)


def drop_enum_value(change: Change, ctx: Context) -> list[Draft]:
    ctx.refuse(
        change,
        f"removes value(s) {change.detail} from enum {change.table}: PostgreSQL cannot drop an "
        "enum value; rows holding it would have to be migrated and the type recreated by hand",
    )
    return []
