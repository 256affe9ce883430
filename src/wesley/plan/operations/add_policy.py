"""Operation `add_policy`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
)
from wesley.plan.operations.shared import policy_drafts


def add_policy(change: Change, ctx: Context) -> list[Draft]:
    t = ctx.new.table(change.table)
    assert t is not None
    return policy_drafts(t, change.new)
