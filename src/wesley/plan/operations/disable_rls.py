"""Operation `disable_rls`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.models import BehaviourChange
from wesley.plan.operations.base import (
    Context,
    Draft,
    rel,
)
from wesley.sqltext import quote_ident


def disable_rls(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "contract",
            "disable_rls",
            f"ALTER TABLE {quote_ident(change.table)} DISABLE ROW LEVEL SECURITY",
            f"SELECT NOT relrowsecurity FROM pg_class WHERE oid = {rel(change.table)}",
            f"row-level security is no longer in the schema for {change.table}",
            table=change.table,
            risk=10,
            notes=("every row becomes visible to every role with table privileges",),
            behaviour=BehaviourChange(
                kind="disable_rls",
                table=change.table,
                message=f"every row of {change.table} becomes visible to every role with "
                "table privileges",
            ),
        )
    ]
