"""Operation `rename_index`: the steps for one change of this kind."""

from __future__ import annotations

from typing import Any

from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    rel,
)
from wesley.sqltext import quote_ident


def rename_index(change: Change, ctx: Context) -> list[Draft]:
    old: Any = change.old
    new: Any = change.new
    return [
        Draft(
            "contract",
            "rename_index",
            f"ALTER INDEX {quote_ident(old.name)} RENAME TO {quote_ident(new.name)}",
            f"SELECT {rel(new.name)} IS NOT NULL",
            f"keep the naming convention after the rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]
