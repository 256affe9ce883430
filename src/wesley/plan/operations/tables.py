"""Tables: create (keys and checks inline; foreign keys as NOT VALID + VALIDATE steps, like
every new foreign key), drop, rename."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column_comment,
    guard_no_relation,
    guard_relation,
    guard_table_comment,
)
from wesley.plan.operations.constraints import fk_drafts
from wesley.plan.operations.rls import enable_drafts, policy_drafts
from wesley.sqltext import quote_ident
from wesley.targets.base import TextBuilder
from wesley.targets.postgres import create_index, table_body, trigger_sql
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def create_table(change: Change, ctx: Context) -> list[Draft]:
    t: Table = change.new
    b = TextBuilder()
    table_body(t, {(t.name, fk.name) for fk in t.foreign_keys}, b)
    name = quote_ident(t.name)
    drafts = [
        Draft(
            "expand",
            "create_table",
            "\n".join(b.lines).removesuffix(";"),
            guard_relation(t.name),
            f"new table {t.name}",
            table=t.name,
        ),
        Draft(
            "expand",
            "comment",
            f"COMMENT ON TABLE {name} IS {uid_comment(t.uid)}",
            guard_table_comment(t.name, UID_COMMENT_PREFIX + t.uid),
            f"record the uid of {t.name}",
            table=t.name,
        ),
    ]
    for col in t.columns:
        drafts.append(
            Draft(
                "expand",
                "comment",
                f"COMMENT ON COLUMN {name}.{quote_ident(col.name)} IS {uid_comment(col.uid)}",
                guard_column_comment(t.name, col.name, UID_COMMENT_PREFIX + col.uid),
                f"record the uid of {t.name}.{col.name}",
                table=t.name,
                column=col.name,
            )
        )
        if col.updated_at:
            drafts.extend(trigger_drafts(t, col.name))
    for ix in t.indexes:
        # the table is new and empty: a plain build takes no time and keeps it transactional
        drafts.append(
            Draft(
                "expand",
                "create_index",
                create_index(t, ix),
                guard_relation(ix.name),
                f"index {ix.name} on the new table {t.name}",
                table=t.name,
            )
        )
    for fk in t.foreign_keys:
        drafts.extend(fk_drafts(t, fk))
    drafts.extend(enable_drafts(t))
    for policy in t.policies:
        drafts.extend(policy_drafts(t, policy))
    return drafts


def trigger_drafts(t: Table, column: str) -> list[Draft]:
    helper, trigger = trigger_sql(t, column)
    return [
        Draft("expand", "ensure_helpers", sql, "SELECT false", "the updated-at trigger function")
        for sql in helper
    ] + [
        Draft(
            "expand",
            "create_trigger",
            trigger.sql,
            f"SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{trigger.name}')",
            f"{t.name}.{column} is set on every update",
            table=t.name,
            column=column,
        )
    ]


def drop_table(change: Change, ctx: Context) -> list[Draft]:
    t: Table = change.old
    if not ctx.refuse(change, f"drops table {t.name} and every row in it"):
        return []
    return [
        Draft(
            "contract",
            "drop_table",
            f"DROP TABLE {quote_ident(t.name)}",
            guard_no_relation(t.name),
            f"{t.name} is no longer in the schema",
            table=t.name,
            destructive=True,
            risk=40,
            notes=("deploy only after no code reads or writes this table",),
        )
    ]


def rename_table(change: Change, ctx: Context) -> list[Draft]:
    old: Table = change.old
    new: Table = change.new
    return [
        Draft(
            "expand",
            "rename_table",
            f"ALTER TABLE {quote_ident(old.name)} RENAME TO {quote_ident(new.name)}",
            guard_relation(new.name),
            f"@wes_renamedFrom: {old.name} is now {new.name}",
            table=new.name,
            notes=("ship the code that uses the new name in the same release",),
        )
    ]
