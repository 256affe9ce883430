"""Operation `enable_rls`: row-level security on a table that already exists.

A behaviour change without an error to warn anyone: from the moment it commits, every role
that is not the table's owner (with FORCE, the owner too) and has no BYPASSRLS sees and
writes only the rows a policy allows, 0 rows where no policy matches. So it is a risk of its
own (MRI points, `--explain`, SHIPME), and `deploy` names the roles it affects."""

from __future__ import annotations

from dataclasses import replace

from wesley.plan.diff import Change
from wesley.plan.models import BehaviourChange
from wesley.plan.operations.base import Context, Draft
from wesley.plan.operations.shared import enable_drafts

RISK = 15  # about a rewriting type change's half: nothing breaks loudly, rows just vanish


def enable_rls(change: Change, ctx: Context) -> list[Draft]:
    drafts = enable_drafts(change.new)
    if not drafts:
        return []
    was_on = bool(change.old.rls and change.old.rls.enabled)
    force = bool(change.new.rls and change.new.rls.force)
    if was_on and not force:
        return drafts  # nothing new is hidden from anyone
    who = (
        "its owner too"
        if was_on
        else "every role except its owner" + (" (and, with FORCE, the owner too)" if force else "")
    )
    message = (
        f"row-level security on {change.table} applies to {who}: from this step on they see and "
        "write only the rows a policy allows, none where no policy matches"
    )
    behaviour = BehaviourChange(kind="enable_rls", table=change.table, message=message, force=force)
    first = drafts[-1] if was_on else drafts[0]  # the statement that changes what is seen
    marked = replace(
        first,
        risk=first.risk + RISK,
        behaviour=behaviour,
        notes=(*first.notes, f"behaviour change: {message}"),
    )
    return [marked if d is first else d for d in drafts]
