"""Foreign keys (NOT VALID, then VALIDATE), checks (likewise), uniques (a unique index built
CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX), and dropping any of them."""

from __future__ import annotations

from typing import Any

from wesley.ir import Check, ForeignKey, Table, Unique
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_constraint,
    guard_valid_index,
    guard_validated,
    lit,
    rel,
    table_of,
)
from wesley.sqltext import quote_ident
from wesley.targets.postgres import fk_clause
from wesley.targets.sqlnames import ident_list


def fk_drafts(t: Table, fk: ForeignKey) -> list[Draft]:
    name, table = quote_ident(fk.name), quote_ident(t.name)
    return [
        Draft(
            "expand",
            "add_fk",
            f"ALTER TABLE {table} ADD {fk_clause(fk)} NOT VALID",
            guard_constraint(t.name, fk.name),
            f"new foreign key {fk.name}; NOT VALID skips checking existing rows under the lock",
            table=t.name,
        ),
        Draft(
            "validate",
            "validate_fk",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
            guard_validated(t.name, fk.name),
            f"check existing rows of {t.name} against {fk.ref_table} without blocking writes",
            table=t.name,
        ),
    ]


def check_drafts(t: Table, ck: Check) -> list[Draft]:
    name, table = quote_ident(ck.name), quote_ident(t.name)
    return [
        Draft(
            "expand",
            "add_check",
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({ck.expr}) NOT VALID",
            guard_constraint(t.name, ck.name),
            f"new check {ck.name}; enforced for new rows at once",
            table=t.name,
            column=ck.column,
        ),
        Draft(
            "validate",
            "validate_check",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
            guard_validated(t.name, ck.name),
            f"check existing rows of {t.name} without blocking writes",
            table=t.name,
            column=ck.column,
        ),
    ]


def unique_drafts(t: Table, u: Unique) -> list[Draft]:
    name, table = quote_ident(u.name), quote_ident(t.name)
    return [
        Draft(
            "expand",
            "create_index",
            f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({ident_list(u.columns)})",
            guard_valid_index(u.name),
            f"build the index behind unique {u.name} without blocking writes",
            table=t.name,
        ),
        Draft(
            "switch",
            "add_unique",
            f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}",
            guard_constraint(t.name, u.name),
            "turn the ready index into the constraint: catalog only",
            table=t.name,
        ),
    ]


def add_fk(change: Change, ctx: Context) -> list[Draft]:
    return fk_drafts(table_of(ctx.new, change.table), change.new)


def add_check(change: Change, ctx: Context) -> list[Draft]:
    return check_drafts(table_of(ctx.new, change.table), change.new)


def add_unique(change: Change, ctx: Context) -> list[Draft]:
    return unique_drafts(table_of(ctx.new, change.table), change.new)


def _drop(change: Change, what: str, extra: str = "") -> list[Draft]:
    item: Any = change.old
    table = quote_ident(change.table)
    return [
        Draft(
            "contract",
            "drop_constraint",
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(item.name)}",
            guard_constraint(change.table, item.name, exists=False),
            f"{what} {item.name} is no longer in the schema{extra}",
            table=change.table,
        )
    ]


def drop_fk(change: Change, ctx: Context) -> list[Draft]:
    return _drop(change, "foreign key")


def drop_check(change: Change, ctx: Context) -> list[Draft]:
    return _drop(change, "check")


def drop_unique(change: Change, ctx: Context) -> list[Draft]:
    return _drop(change, "unique constraint")


def _pk_is(t: Table) -> str:
    """SQL: the pg_constraint row in scope has exactly `t`'s primary key columns, in order."""
    names = ", ".join(lit(c) for c in t.primary_key)
    return (
        f"conkey = ARRAY(SELECT a.attnum FROM unnest(ARRAY[{names}]::name[]) WITH ORDINALITY "
        f"u(n, i) JOIN pg_attribute a ON a.attrelid = {rel(t.name)} AND a.attname = u.n "
        "ORDER BY u.i)::int2[]"
    )


def set_primary_key(change: Change, ctx: Context) -> list[Draft]:
    old: Table = change.old
    new: Table = change.new
    if not ctx.refuse(
        change,
        f"changes the primary key of {new.name} from "
        f"({', '.join(old.primary_key)}) to ({', '.join(new.primary_key)})",
    ):
        return []
    from wesley.targets.sqlnames import pk_name

    table, pk = quote_ident(new.name), pk_name(new)
    drafts: list[Draft] = []
    if old.primary_key:
        drafts.append(
            Draft(
                "contract",
                "drop_primary_key",
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(pk_name(old))}",
                f"SELECT NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
                f"{rel(new.name)} AND contype = 'p' AND NOT ({_pk_is(new)}))",
                "drop the old primary key",
                table=new.name,
                destructive=True,
                risk=10,
            )
        )
    if new.primary_key:
        tmp = f"{pk}_new"[:63]
        drafts += [
            Draft(
                "expand",
                "create_index",
                f"CREATE UNIQUE INDEX CONCURRENTLY {quote_ident(tmp)} ON {table} "
                f"({ident_list(new.primary_key)})",
                f"{guard_valid_index(tmp)} OR EXISTS (SELECT 1 FROM pg_constraint WHERE "
                f"conrelid = {rel(new.name)} AND contype = 'p' AND {_pk_is(new)})",
                "build the new primary key's index",
                table=new.name,
            ),
            Draft(
                "contract",
                "set_primary_key",
                f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(pk)} PRIMARY KEY USING INDEX "
                f"{quote_ident(tmp)}",
                f"SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {rel(new.name)} "
                f"AND contype = 'p' AND {_pk_is(new)})",
                "the new primary key",
                table=new.name,
            ),
        ]
    return drafts


def rename_constraint(change: Change, ctx: Context) -> list[Draft]:
    old: Any = change.old
    new: Any = change.new
    return [
        Draft(
            "expand",
            "rename_constraint",
            f"ALTER TABLE {quote_ident(change.table)} RENAME CONSTRAINT {quote_ident(old.name)} "
            f"TO {quote_ident(new.name)}",
            guard_constraint(change.table, new.name),
            f"keep the naming convention after the table's rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]


def rename_index(change: Change, ctx: Context) -> list[Draft]:
    old: Any = change.old
    new: Any = change.new
    return [
        Draft(
            "expand",
            "rename_index",
            f"ALTER INDEX {quote_ident(old.name)} RENAME TO {quote_ident(new.name)}",
            f"SELECT {rel(new.name)} IS NOT NULL",
            f"keep the naming convention after the table's rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]
