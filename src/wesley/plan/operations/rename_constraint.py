"""Operation `rename_constraint`: the steps for one change of this kind."""

from __future__ import annotations

from typing import Any

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_constraint,
)
from wesley.sqltext import quote_ident


def rename_constraint(change: Change, ctx: Context) -> list[Draft]:
    old: Any = change.old
    new: Any = change.new
    return [
        Draft(
            "contract",
            "rename_constraint",
            f"ALTER TABLE {quote_ident(change.table)} RENAME CONSTRAINT {quote_ident(old.name)} "
            f"TO {quote_ident(new.name)}",
            guard_constraint(change.table, new.name),
            f"keep the naming convention after the rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]
