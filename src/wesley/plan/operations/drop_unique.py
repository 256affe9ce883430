"""Operation `drop_unique`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
)
from wesley.plan.operations.shared import drop_constraint_drafts


def drop_unique(change: Change, ctx: Context) -> list[Draft]:
    return drop_constraint_drafts(change, "unique constraint")
