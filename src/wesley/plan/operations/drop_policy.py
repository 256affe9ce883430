"""Operation `drop_policy`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Policy
from wesley.plan.diff import Change
from wesley.plan.models import Phase
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_policy,
)
from wesley.sqltext import quote_ident


def drop_policy(change: Change, ctx: Context) -> list[Draft]:
    p: Policy = change.old
    table = quote_ident(change.table)
    phase: Phase = "switch" if change.detail == "redefined" else "contract"
    return [
        Draft(
            phase,
            "drop_policy",
            f"DROP POLICY IF EXISTS {quote_ident(p.name)} ON {table}",
            guard_policy(change.table, p.name, exists=False),
            f"policy {p.name} is no longer in the schema"
            if phase == "contract"
            else f"policy {p.name} is redefined",
            table=change.table,
        )
    ]
