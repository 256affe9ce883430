"""Operation `rename_table`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_relation,
)
from wesley.sqltext import quote_ident


def rename_table(change: Change, ctx: Context) -> list[Draft]:
    old: Table = change.old
    new: Table = change.new
    return [
        Draft(
            "contract",
            "rename_table",
            f"ALTER TABLE {quote_ident(old.name)} RENAME TO {quote_ident(new.name)}",
            guard_relation(new.name),
            f"@wes_renamedFrom: {old.name} is now {new.name}",
            table=new.name,
            notes=(
                "the new version uses the new name through its version schema from `deploy` "
                "on; the old one keeps the old name until this rename, at `deploy --complete`",
            ),
        )
    ]
