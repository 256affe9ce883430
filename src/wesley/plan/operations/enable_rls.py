"""Operation `enable_rls`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
)
from wesley.plan.operations.shared import enable_drafts


def enable_rls(change: Change, ctx: Context) -> list[Draft]:
    return enable_drafts(change.new)
