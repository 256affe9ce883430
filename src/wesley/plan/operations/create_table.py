"""Operation `create_table`: the steps for one change of this kind."""

from __future__ import annotations

from wesley.ir import Table
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    Context,
    Draft,
    guard_column_comment,
    guard_relation,
    guard_table_comment,
)
from wesley.plan.operations.shared import enable_drafts, fk_drafts, policy_drafts, trigger_drafts
from wesley.sqltext import quote_ident
from wesley.targets.base import TextBuilder
from wesley.targets.postgres import create_index, table_body
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
