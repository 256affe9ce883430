"""Operation `rename_policy`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Policy
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_policy,
)
from wesley.sqltext import quote_ident


def rename_policy(change: Change, ctx: Context) -> list[Draft]:
    old: Policy = change.old
    new: Policy = change.new
    return [
        Draft(
            "contract",
            "rename_constraint",
            f"ALTER POLICY {quote_ident(old.name)} ON {quote_ident(change.table)} RENAME TO "
            f"{quote_ident(new.name)}",
            guard_policy(change.table, new.name),
            f"keep the naming convention after the rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]
