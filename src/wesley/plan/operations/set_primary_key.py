"""Operation `set_primary_key`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_valid_index,
    rel,
)
from wesley.plan.operations.shared import pk_is
from wesley.sqltext import quote_ident
from wesley.targets.sqlnames import ident_list, pk_name


def set_primary_key(change: Change, ctx: Context) -> list[Draft]:
    old: Table = change.old
    new: Table = change.new
    if not ctx.refuse(
        change,
        f"changes the primary key of {new.name} from "
        f"({', '.join(old.primary_key)}) to ({', '.join(new.primary_key)})",
    ):
        return []
    table, pk = quote_ident(new.name), pk_name(new)
    drafts: list[Draft] = []
    if old.primary_key:
        drafts.append(
            Draft(
                "contract",
                "drop_primary_key",
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(pk_name(old))}",
                f"SELECT NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
                f"{rel(new.name)} AND contype = 'p' AND NOT ({pk_is(new)}))",
                "drop the old primary key",
                table=new.name,
                destructive=True,
                risk=10,
            )
        )
    if new.primary_key:
        tmp = new_pk_index(new)
        drafts += [
            Draft(
                "expand",
                "create_index",
                f"CREATE UNIQUE INDEX CONCURRENTLY {quote_ident(tmp)} ON {table} "
                f"({ident_list(new.primary_key)})",
                f"{guard_valid_index(tmp)} OR EXISTS (SELECT 1 FROM pg_constraint WHERE "
                f"conrelid = {rel(new.name)} AND contype = 'p' AND {pk_is(new)})",
                "build the new primary key's index",
                table=new.name,
            ),
            Draft(
                "contract",
                "set_primary_key",
                f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(pk)} PRIMARY KEY USING INDEX "
                f"{quote_ident(tmp)}",
                f"SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {rel(new.name)} "
                f"AND contype = 'p' AND {pk_is(new)})",
                "the new primary key",
                table=new.name,
            ),
        ]
    return drafts


def new_pk_index(table: Table) -> str:
    """The index a changed primary key is built in before it is attached (USING INDEX)."""
    return f"{pk_name(table)}_new"[:63]
