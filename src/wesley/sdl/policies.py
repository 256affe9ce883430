"""Row-level security policies derived from a table's tenant, owner, preset, keyword and
`@wes_rls` rules.

- `@wes_tenant(by:)`: rows belong to the tenant named by the session setting `app.tenant_id`
  (`wesley.current_tenant()`); a session without it sees and writes nothing.
- `@wes_owner(column:)`: rows belong to the user named by `app.user_id`
  (`wesley.current_user_id()`).
- `@wes_rls(preset:)` and the upstream keywords (`select: "owner_or_admin"`): rules built
  here from a small vocabulary (`Rule`), so that the pgTAP target can evaluate what each
  probe must see (`expect`) from the very rules the SQL is rendered from.
- `@wes_rls(...)` expressions: the schema's own SQL, one policy per command.
Every policy is `TO` its command's own roles (`selectRoles:` ...) or else `roles:` (empty:
PUBLIC); admin rules `TO` the admin roles.

Grants are PERMISSIVE (any one lets a row through), filters (soft-delete, time-window) are
RESTRICTIVE (every one must). When a table has tenant isolation *and* other grants, the
tenant policy is RESTRICTIVE too, so no other policy can widen it across tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wesley.ir import Column, Policy, Rls, Table
from wesley.naming import constraint_name
from wesley.sdl.expressions import ExprKind, normalize_expression
from wesley.sqltext import column_type, quote_ident

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"
DEFAULT_ADMIN_ROLES = ("service_role",)

Atom = Literal["true", "false", "tenant", "owner", "auth", "live", "window", "member"]


@dataclass(frozen=True)
class Rule:
    """A row rule: an atom, or `and`/`or` of two rules."""

    op: Literal["atom", "and", "or"]
    atom: Atom | None = None
    left: Rule | None = None
    right: Rule | None = None


def atom(a: Atom) -> Rule:
    return Rule("atom", atom=a)


def both(a: Rule, b: Rule) -> Rule:
    return Rule("and", left=a, right=b)


def either(a: Rule, b: Rule) -> Rule:
    return Rule("or", left=a, right=b)


Command = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]


@dataclass(frozen=True)
class RulePolicy:
    """A policy as rules; `admin`: granted to the table's admin roles instead of `roles`."""

    suffix: str
    command: Command
    permissive: bool
    using: Rule | None
    check: Rule | None
    admin: bool = False


# upstream keyword → (rule for ordinary roles or None, an admin grant too)
KEYWORDS: dict[str, tuple[Rule | None, bool]] = {
    "tenant": (atom("tenant"), False),
    "tenant_only": (atom("tenant"), False),
    # under tenant isolation shares never cross tenants, and a tenant's rows are its own already
    "tenant_or_shared": (atom("tenant"), False),
    "owner": (atom("owner"), False),
    "owner_only": (atom("owner"), False),
    "owner_must_match": (atom("owner"), False),
    "tenant_and_owner": (both(atom("tenant"), atom("owner")), False),
    "tenant_or_owner": (either(atom("tenant"), atom("owner")), False),
    "owner_or_admin": (atom("owner"), True),
    "tenant_or_admin": (atom("tenant"), True),
    "admin": (None, True),
    "admin_only": (None, True),
    "authenticated": (atom("auth"), False),
    "public": (atom("true"), False),
    "public_read": (atom("true"), False),
    "always": (atom("true"), False),
    "everyone": (atom("true"), False),
    # only roles that bypass row-level security (superusers, BYPASSRLS: Supabase's service_role)
    "system_only": (None, False),
    "never": (None, False),
    "none": (None, False),
}
COMMANDS: tuple[tuple[str, Command], ...] = (
    ("select", "SELECT"),
    ("insert", "INSERT"),
    ("update", "UPDATE"),
    ("delete", "DELETE"),
)


def rls_expressions(rls: Rls) -> list[str]:
    return [e for e in (rls.using, rls.check, rls.select, rls.insert, rls.update, rls.delete) if e]


def _matches(col: Column, function: str) -> str:
    return f"{quote_ident(col.name)} = ({function}())::{column_type(col)}"


def _column(table: Table, name: str | None) -> Column:
    col = table.column(name or "")
    assert col is not None, name  # the parser checked it
    return col


def _window(table: Table, start: Column, end: Column) -> str:
    lo = f"{quote_ident(start.name)} <= now()"
    hi = f"now() < {quote_ident(end.name)}"
    if start.nullable:
        lo = f"({quote_ident(start.name)} IS NULL OR {lo})"
    if end.nullable:
        hi = f"({quote_ident(end.name)} IS NULL OR {hi})"
    return f"{lo} AND {hi}"


def _member(table: Table, opts: dict[str, str | list[str]], user_type: str) -> str:
    m = quote_ident(str(opts["membership"]))
    here = f"{quote_ident(table.name)}.{quote_ident(str(opts['column']))}"
    parent = quote_ident(str(opts["parentColumn"]))
    user = quote_ident(str(opts["userColumn"]))
    return (
        f"EXISTS (SELECT 1 FROM {m} WHERE {m}.{parent} = {here} AND "
        f"{m}.{user} = (wesley.current_user_id())::{user_type})"
    )


def rule_sql(rule: Rule, table: Table) -> str:
    if rule.op != "atom":
        assert rule.left is not None and rule.right is not None
        joiner = " AND " if rule.op == "and" else " OR "
        return f"({rule_sql(rule.left, table)}){joiner}({rule_sql(rule.right, table)})"
    preset = table.rls.preset if table.rls else None
    opts = preset.options if preset else {}
    match rule.atom:
        case "true" | "false":
            return str(rule.atom)
        case "tenant":
            return _matches(_column(table, table.tenant_by), "wesley.current_tenant")
        case "owner":
            return _matches(
                _column(table, table.owner.column if table.owner else None),
                "wesley.current_user_id",
            )
        case "auth":
            return "wesley.current_user_id() IS NOT NULL"
        case "live":
            return f"{quote_ident(str(opts['column']))} IS NULL"
        case "window":
            start = _column(table, str(opts["start"]))
            end = _column(table, str(opts["end"]))
            return _window(table, start, end)
        case "member":
            return _member(table, opts, str(opts["userType"]))
    raise AssertionError(rule)


def _grants_and_filters(table: Table) -> tuple[list[RulePolicy], list[RulePolicy]]:
    """The rule-built policies of `@wes_owner`, the preset and the keywords."""
    rls = table.rls
    assert rls is not None
    grants: list[RulePolicy] = []
    filters: list[RulePolicy] = []
    if table.owner and not rls.keywords:
        grants.append(RulePolicy("owner", "ALL", True, atom("owner"), atom("owner")))
    elif table.owner:
        # with keywords, @wes_owner names the owner column and rules the commands they leave
        grants += [
            _per_command(key, command, atom("owner"))
            for key, command in COMMANDS
            if key not in rls.keywords and getattr(rls, key) is None
        ]
    preset = rls.preset.name if rls.preset else None
    if preset == "public-read":
        grants.append(RulePolicy("public_read", "SELECT", True, atom("true"), None))
    elif preset == "authenticated":
        grants.append(RulePolicy("authenticated", "ALL", True, atom("auth"), atom("auth")))
    elif preset == "admin-only":
        grants.append(RulePolicy("admin", "ALL", True, atom("true"), atom("true"), admin=True))
    elif preset == "hierarchical":
        grants.append(RulePolicy("members", "ALL", True, atom("member"), atom("member")))
    elif preset in ("soft-delete", "time-window"):
        kind: Atom = "live" if preset == "soft-delete" else "window"
        slug = preset.replace("-", "_")
        filters.append(RulePolicy(f"{slug}_select", "SELECT", False, atom(kind), None))
        filters.append(RulePolicy(f"{slug}_update", "UPDATE", False, atom(kind), atom("true")))
        # soft-delete: rows are deleted by setting the column, never for real
        gone = atom("false") if preset == "soft-delete" else atom(kind)
        filters.append(RulePolicy(f"{slug}_delete", "DELETE", False, gone, None))
    for key, command in COMMANDS:
        word = rls.keywords.get(key)
        if word is None:
            continue
        rule, admin = KEYWORDS[word]
        if rule is not None:
            grants.append(_per_command(key, command, rule))
        if admin:
            grants.append(_per_command(f"{key}_admin", command, atom("true"), admin=True))
    return grants, filters


def _per_command(suffix: str, command: Command, rule: Rule, admin: bool = False) -> RulePolicy:
    using = None if command == "INSERT" else rule
    check = rule if command in ("INSERT", "UPDATE") else None
    return RulePolicy(suffix, command, True, using, check, admin=admin)


def rule_policies(table: Table) -> list[RulePolicy] | None:
    """Every policy of the table as rules, or None when the schema's own SQL expressions take
    part (those cannot be evaluated here)."""
    rls = table.rls
    if rls is None or not rls.enabled or rls_expressions(rls):
        return None
    grants, filters = _grants_and_filters(table)
    out: list[RulePolicy] = []
    if table.tenant_by:
        t = atom("tenant")
        out.append(RulePolicy("tenant", "ALL", not grants, t, t))
    elif filters and not grants:
        out.append(RulePolicy("rows", "ALL", True, atom("true"), atom("true")))
    return out + grants + filters


def _name(table: Table, suffix: str) -> str:
    return constraint_name(table.name, [], suffix)


def _norm(sql: str | None) -> str | None:
    return None if sql is None else normalize_expression(sql, ExprKind.POLICY, None, "policy")


def _render(table: Table, rp: RulePolicy) -> Policy:
    rls = table.rls
    assert rls is not None
    read = rls.preset.options.get("readRoles") if rls.preset else None
    if rp.suffix == "tenant":
        roles: list[str] = []  # isolation holds for every role, as it always has
    elif rp.admin:
        roles = rls.admin_roles
    elif rp.suffix == "public_read" and isinstance(read, list):
        roles = read
    elif rp.command != "ALL":
        roles = getattr(rls, f"{rp.command.lower()}_roles") or rls.roles
    else:
        roles = rls.roles
    return Policy(
        name=_name(table, rp.suffix),
        command=rp.command,
        permissive=rp.permissive,
        roles=list(roles),
        using=_norm(rule_sql(rp.using, table)) if rp.using else None,
        check=_norm(rule_sql(rp.check, table)) if rp.check else None,
    )


def derive_policies(table: Table) -> list[Policy]:
    """The policies a table gets, in order; names are `<table>_<suffix>`."""
    rls = table.rls
    if rls is None or not rls.enabled:
        return []
    modelled = rule_policies(table)
    if modelled is not None:
        return [_render(table, rp) for rp in modelled]
    # the schema's own expressions (with tenant and owner rules): as before presets existed
    grants, filters = _grants_and_filters(table)
    out: list[Policy] = []
    if table.tenant_by:
        t = atom("tenant")
        out.append(_render(table, RulePolicy("tenant", "ALL", False, t, t)))
    out += [_render(table, rp) for rp in grants + filters]
    name = _name
    if rls.using or rls.check:
        out.append(
            Policy(
                name=name(table, "all"),
                command="ALL",
                roles=rls.roles,
                using=rls.using,
                check=rls.check,
            )
        )
    if rls.select:
        out.append(
            Policy(
                name=name(table, "select"),
                command="SELECT",
                roles=rls.select_roles or rls.roles,
                using=rls.select,
            )
        )
    if rls.insert:
        out.append(
            Policy(
                name=name(table, "insert"),
                command="INSERT",
                roles=rls.insert_roles or rls.roles,
                check=rls.insert,
            )
        )
    if rls.update:
        out.append(
            Policy(
                name=name(table, "update"),
                command="UPDATE",
                roles=rls.update_roles or rls.roles,
                using=rls.update,
                check=rls.update,
            )
        )
    if rls.delete:
        out.append(
            Policy(
                name=name(table, "delete"),
                command="DELETE",
                roles=rls.delete_roles or rls.roles,
                using=rls.delete,
            )
        )
    return out


@dataclass(frozen=True)
class Actor:
    """Who a probe runs as: a session's tenant and user ("a", "b" or None) and whether its
    role is one of the admin roles."""

    tenant: str | None
    user: str | None
    admin: bool = False


@dataclass(frozen=True)
class Row:
    """A probe row: whose tenant, owner and parent it is ("a"/"b"), deleted, in its window."""

    side: str
    deleted: bool = False
    in_window: bool = True


def holds(rule: Rule, actor: Actor, row: Row) -> bool:
    if rule.op == "and":
        assert rule.left is not None and rule.right is not None
        return holds(rule.left, actor, row) and holds(rule.right, actor, row)
    if rule.op == "or":
        assert rule.left is not None and rule.right is not None
        return holds(rule.left, actor, row) or holds(rule.right, actor, row)
    match rule.atom:
        case "true":
            return True
        case "false":
            return False
        case "tenant":
            return actor.tenant == row.side
        case "owner" | "member":
            return actor.user == row.side
        case "auth":
            return actor.user is not None
        case "live":
            return not row.deleted
        case "window":
            return row.in_window
    raise AssertionError(rule)


def _applies(rp: RulePolicy, actor: Actor, commands: tuple[str, ...]) -> bool:
    return rp.command in commands and (actor.admin or not rp.admin)


def _passes(
    policies: list[RulePolicy], actor: Actor, row: Row, commands: tuple[str, ...], check: bool
) -> bool:
    """PostgreSQL's combination: some permissive policy and every restrictive one."""
    mine = [p for p in policies if _applies(p, actor, commands)]

    def ok(p: RulePolicy) -> bool:
        rule = (p.check or p.using) if check else p.using
        return rule is not None and holds(rule, actor, row)

    permissive = [p for p in mine if p.permissive]
    restrictive = [p for p in mine if not p.permissive]
    return any(ok(p) for p in permissive) and all(ok(p) for p in restrictive)


Outcome = Literal["1", "0", "denied"]


def expect(policies: list[RulePolicy], command: str, actor: Actor, row: Row) -> Outcome:
    """What `command` (with a WHERE on the row's key, so SELECT policies apply too) does to
    `row` as `actor`: affects it ("1"), does not see it ("0") or is refused ("denied")."""
    seen = _passes(policies, actor, row, ("ALL", "SELECT"), check=False)
    if command == "SELECT":
        return "1" if seen else "0"
    if command == "INSERT":
        return "1" if _passes(policies, actor, row, ("ALL", "INSERT"), check=True) else "denied"
    if not seen or not _passes(policies, actor, row, ("ALL", command), check=False):
        return "0"
    if command == "UPDATE" and not _passes(policies, actor, row, ("ALL", "UPDATE"), check=True):
        return "denied"
    return "1"
