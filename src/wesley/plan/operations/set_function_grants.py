"""Operation `set_function_grants`: the roles that may call an `@wes_rpc` function changed
with the table's `@wes_grant(roles:)`."""

from __future__ import annotations

from wesley.ir import PUBLIC, Function
from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft
from wesley.plan.operations.create_function import grant_drafts


def set_function_grants(change: Change, ctx: Context) -> list[Draft]:
    old: Function = change.old
    new: Function = change.new
    gone = sorted(set(old.grants) - set(new.grants) - {PUBLIC})
    drafts = grant_drafts(new, [])
    if gone:
        drafts[:1] += grant_drafts(new, gone)[:1]  # PUBLIC's and the dropped roles' EXECUTE
    return drafts
