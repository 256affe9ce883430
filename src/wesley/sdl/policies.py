"""Row-level security policies derived from a table's tenant, owner and `@wes_rls` rules.

- `@wes_tenant(by:)`: rows belong to the tenant named by the session setting `app.tenant_id`
  (`wesley.current_tenant()`); a session without it sees and writes nothing.
- `@wes_owner(column:)`: rows belong to the user named by `app.user_id`
  (`wesley.current_user_id()`).
- `@wes_rls(...)`: the schema's own expressions, one policy per command, `TO` the command's
  own roles (`selectRoles:` ...) or else `roles:` (empty: PUBLIC).
When a table has tenant isolation *and* other policies, the tenant policy is RESTRICTIVE, so
no other policy can widen it across tenants.
"""

from __future__ import annotations

from wesley.ir import Column, Policy, Rls, Table
from wesley.naming import constraint_name
from wesley.sdl.expressions import ExprKind, normalize_expression
from wesley.sqltext import column_type, quote_ident

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"


def rls_expressions(rls: Rls) -> list[str]:
    return [e for e in (rls.using, rls.check, rls.select, rls.insert, rls.update, rls.delete) if e]


def _matches(col: Column, function: str) -> str:
    text = f"{quote_ident(col.name)} = ({function}())::{column_type(col)}"
    return normalize_expression(text, ExprKind.POLICY, None, "policy")


def derive_policies(table: Table) -> list[Policy]:
    """The policies a table gets, in order; names are `<table>_<suffix>`."""
    rls = table.rls
    if rls is None or not rls.enabled:
        return []

    def name(suffix: str) -> str:
        return constraint_name(table.name, [], suffix)

    out: list[Policy] = []
    custom = bool(rls_expressions(rls)) or table.owner is not None
    if table.tenant_by:
        col = table.column(table.tenant_by)
        assert col is not None  # the parser checked it
        rule = _matches(col, "wesley.current_tenant")
        out.append(
            Policy(
                name=name("tenant"), command="ALL", permissive=not custom, using=rule, check=rule
            )
        )
    if table.owner:
        col = table.column(table.owner.column)
        assert col is not None
        rule = _matches(col, "wesley.current_user_id")
        out.append(
            Policy(name=name("owner"), command="ALL", roles=rls.roles, using=rule, check=rule)
        )
    if rls.using or rls.check:
        out.append(
            Policy(
                name=name("all"), command="ALL", roles=rls.roles, using=rls.using, check=rls.check
            )
        )
    if rls.select:
        out.append(
            Policy(
                name=name("select"),
                command="SELECT",
                roles=rls.select_roles or rls.roles,
                using=rls.select,
            )
        )
    if rls.insert:
        out.append(
            Policy(
                name=name("insert"),
                command="INSERT",
                roles=rls.insert_roles or rls.roles,
                check=rls.insert,
            )
        )
    if rls.update:
        out.append(
            Policy(
                name=name("update"),
                command="UPDATE",
                roles=rls.update_roles or rls.roles,
                using=rls.update,
                check=rls.update,
            )
        )
    if rls.delete:
        out.append(
            Policy(
                name=name("delete"),
                command="DELETE",
                roles=rls.delete_roles or rls.roles,
                using=rls.delete,
            )
        )
    return out
