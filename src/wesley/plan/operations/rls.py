"""Row-level security: enable/force, policies (drop-if-exists + create), disable."""

from __future__ import annotations

from wesley.ir import Policy, Table
from wesley.plan.diff import Change
from wesley.plan.models import Phase
from wesley.plan.operations.base import Context, Draft, guard_policy, rel
from wesley.sqltext import quote_ident
from wesley.targets.rls import (
    AUTH_UID_EXISTS,
    AUTH_UID_FUNCTION,
    AUTH_UID_SHIM,
    HELPERS,
    called_functions,
    policy_sql,
)


def enable_drafts(t: Table) -> list[Draft]:
    if t.rls is None or not t.rls.enabled:
        return []
    name = quote_ident(t.name)
    drafts = [
        Draft(
            "switch",
            "enable_rls",
            f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            f"SELECT relrowsecurity FROM pg_class WHERE oid = {rel(t.name)}",
            f"row-level security on {t.name}",
            table=t.name,
        )
    ]
    if t.rls.force:
        drafts.append(
            Draft(
                "switch",
                "enable_rls",
                f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
                f"SELECT relforcerowsecurity FROM pg_class WHERE oid = {rel(t.name)}",
                f"row-level security applies to the owner of {t.name} too",
                table=t.name,
            )
        )
    return drafts


def helper_drafts(policies: list[Policy]) -> list[Draft]:
    """The functions policies call; CREATE OR REPLACE / IF NOT EXISTS: always safe to run."""
    drafts = [
        Draft(
            "expand",
            "ensure_helpers",
            sql.removesuffix(";"),
            "SELECT false",
            "helper functions the policies call",
        )
        for sql in HELPERS
    ]
    if any("auth.uid" in called_functions(e) for p in policies for e in (p.using, p.check) if e):
        drafts += [
            Draft(
                "expand",
                "ensure_helpers",
                sql.removesuffix(";"),
                "SELECT false",
                "the auth schema for auth.uid()",
            )
            for sql in AUTH_UID_SHIM[:2]
        ]
        drafts.append(
            Draft(
                "expand",
                "ensure_helpers",
                AUTH_UID_FUNCTION,
                AUTH_UID_EXISTS,
                "auth.uid() from request.jwt.claim.sub, where none exists (Supabase has one)",
            )
        )
    return drafts


def policy_drafts(t: Table, policy: Policy) -> list[Draft]:
    create = policy_sql(t, policy)[1].removesuffix(";")
    return [
        Draft(
            "switch",
            "create_policy",
            create,
            guard_policy(t.name, policy.name),
            f"policy {policy.name} ({policy.command})",
            table=t.name,
        ),
    ]


def enable_rls(change: Change, ctx: Context) -> list[Draft]:
    return enable_drafts(change.new)


def add_policy(change: Change, ctx: Context) -> list[Draft]:
    t = ctx.new.table(change.table)
    assert t is not None
    return policy_drafts(t, change.new)


def drop_policy(change: Change, ctx: Context) -> list[Draft]:
    p: Policy = change.old
    table = quote_ident(change.table)
    phase: Phase = "switch" if change.detail == "redefined" else "contract"
    return [
        Draft(
            phase,
            "drop_policy",
            f"DROP POLICY IF EXISTS {quote_ident(p.name)} ON {table}",
            guard_policy(change.table, p.name, exists=False),
            f"policy {p.name} is no longer in the schema"
            if phase == "contract"
            else f"policy {p.name} is redefined",
            table=change.table,
        )
    ]


def disable_rls(change: Change, ctx: Context) -> list[Draft]:
    return [
        Draft(
            "contract",
            "disable_rls",
            f"ALTER TABLE {quote_ident(change.table)} DISABLE ROW LEVEL SECURITY",
            f"SELECT NOT relrowsecurity FROM pg_class WHERE oid = {rel(change.table)}",
            f"row-level security is no longer in the schema for {change.table}",
            table=change.table,
            risk=10,
            notes=("every row becomes visible to every role with table privileges",),
        )
    ]


def alter_policy(change: Change, ctx: Context) -> list[Draft]:
    """Same name, command and kind: ALTER POLICY in place (no window without a policy)."""
    p: Policy = change.new
    table = quote_ident(change.table)
    to = ", ".join(quote_ident(r) for r in p.roles) if p.roles else "PUBLIC"
    sql = f"ALTER POLICY {quote_ident(p.name)} ON {table} TO {to}"
    if p.using:
        sql += f" USING ({p.using})"
    if p.check:
        sql += f" WITH CHECK ({p.check})"
    return [
        Draft(
            "switch",
            "alter_policy",
            sql,
            "SELECT false",
            f"policy {p.name} changes its rule",
            table=change.table,
        )
    ]


def rename_policy(change: Change, ctx: Context) -> list[Draft]:
    old: Policy = change.old
    new: Policy = change.new
    return [
        Draft(
            "expand",
            "rename_constraint",
            f"ALTER POLICY {quote_ident(old.name)} ON {quote_ident(change.table)} RENAME TO "
            f"{quote_ident(new.name)}",
            guard_policy(change.table, new.name),
            f"keep the naming convention after the table's rename ({old.name} -> {new.name})",
            table=change.table,
        )
    ]
