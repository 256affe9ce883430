"""Operation `drop_function`: an `@wes_rpc` function no longer in the schema (in the
contract: the running application may still call it), or one whose arguments or result type
change (dropped in expand, just before it is created again: CREATE OR REPLACE cannot change
those). No data is lost."""

from __future__ import annotations

from wesley.ir import Function
from wesley.plan.diff import Change
from wesley.plan.models import Phase
from wesley.plan.operations.base import IDEMPOTENT, Context, Draft
from wesley.targets.rpc import signature


def drop_function(change: Change, ctx: Context) -> list[Draft]:
    f: Function = change.old
    redefined = change.detail == "redefined"
    phase: Phase = "expand" if redefined else "contract"
    return [
        Draft(
            phase,
            "drop_function",
            f"DROP FUNCTION IF EXISTS {signature(f)}",
            IDEMPOTENT,
            f"{f.name} takes new arguments or returns a new type"
            if redefined
            else f"{f.name} is no longer in the schema",
            table=f.table,
        )
    ]
