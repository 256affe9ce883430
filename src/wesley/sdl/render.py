"""IR → Wesley SDL: the schema of an existing database (`wesley introspect`), written so that
parsing it gives back the same database: every SQL name, type, default, key, unique, check,
index, foreign key, uid and row-level security rule is spelled with a `@wes_*` directive.

Types Wesley has no scalar for (`varchar(20)`, `smallint`, ...) become custom scalars, returned
with the SQL type each maps to: they belong in wesley.toml's `[scalars]`. What SDL cannot
say (a foreign key over several columns, a policy no `@wes_tenant` / `@wes_owner` /
`@wes_rls` rule derives, an enum name SDL cannot map to) is an error naming it, never a
silently different schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wesley.errors import input_error
from wesley.ir import (
    COLUMN_GRANT,
    IR,
    PUBLIC,
    TABLE_GRANT,
    Column,
    Grant,
    Owner,
    Policy,
    Rls,
    Table,
)
from wesley.naming import constraint_name, snake_case
from wesley.sdl.expressions import comparable_expression, normalize_type_name
from wesley.sdl.policies import derive_policies
from wesley.sdl.registry import BUILTIN_SCALARS
from wesley.targets.orm import links

_GQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_RESERVED_VALUES = frozenset({"true", "false", "null"})
_PREFERRED = {"uuid": "ID"}  # ID and UUID are both uuid: ID reads best


def _reverse_scalars() -> dict[str, str]:
    out: dict[str, str] = {}
    for scalar, sql in BUILTIN_SCALARS.items():
        out.setdefault(normalize_type_name(sql, None, "type"), scalar)
    for sql, scalar in _PREFERRED.items():
        out[normalize_type_name(sql, None, "type")] = scalar
    return out


_SCALAR_OF = _reverse_scalars()


@dataclass(frozen=True)
class Rendered:
    sdl: str
    scalars: dict[str, str]  # custom scalar → SQL type, for wesley.toml [scalars]


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _list(names: list[str]) -> str:
    return "[" + ", ".join(_q(n) for n in names) + "]"


def _pascal(name: str) -> str:
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    text = "".join(p[:1].upper() + p[1:] for p in parts) or "T"
    return text if text[0].isalpha() or text[0] == "_" else "T" + text


def _camel(name: str) -> str:
    p = _pascal(name)
    return p[:1].lower() + p[1:]


def _unsupported(what: str, hint: str) -> Exception:
    return input_error("INTROSPECT_UNSUPPORTED", what, hint)


class _Names:
    """GraphQL type names in use (types, enums, scalars share one namespace)."""

    def __init__(self) -> None:
        self.taken: set[str] = set(BUILTIN_SCALARS) | {"Query", "Mutation", "Subscription"}

    def claim(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.taken:
            name = f"{wanted}{n}"
            n += 1
        self.taken.add(name)
        return name


def render_sdl(ir: IR) -> Rendered:
    names = _Names()
    lines: list[str] = ["# Wesley SDL introspected from a PostgreSQL database.", ""]
    enums: dict[str, str] = {}
    for enum in ir.enums:
        wanted = _pascal(enum.name)
        if snake_case(wanted) != enum.name or wanted in names.taken:
            wanted = enum.name
        if snake_case(wanted) != enum.name or not _GQL_NAME.match(wanted):
            raise _unsupported(
                f"enum type {enum.name!r} has no GraphQL name that maps back to it",
                "rename the type in the database to snake_case (ALTER TYPE ... RENAME TO ...)",
            )
        enums[enum.name] = names.claim(wanted)
        bad = [v for v in enum.values if not _GQL_NAME.match(v) or v in _RESERVED_VALUES]
        if bad:
            raise _unsupported(
                f"enum {enum.name} has values GraphQL cannot name: {', '.join(map(repr, bad))}",
                "rename the values (ALTER TYPE ... RENAME VALUE ...) to letters, digits and _",
            )
        uid = f" @wes_uid(value: {_q(enum.uid)})" if enum.uid != f"enum:{enum.name}" else ""
        lines.append(f"enum {enums[enum.name]}{uid} {{ {' '.join(enum.values)} }}")
        lines.append("")
    types = {t.name: names.claim(_pascal(t.name)) for t in ir.tables}
    fields: dict[str, dict[str, str]] = {}
    for t in ir.tables:
        taken: set[str] = set()
        fields[t.name] = {}
        for c in t.columns:
            wanted = _camel(c.name)
            name, n = wanted, 2
            while name in taken:
                name = f"{wanted}{n}"
                n += 1
            taken.add(name)
            fields[t.name][c.name] = name
    scalars: dict[str, str] = {}
    relations = _relations(ir, types, fields)
    for t in ir.tables:
        lines.extend(_table(t, types, enums, fields, scalars, names, relations[t.name]))
        lines.append("")
    head = [f"scalar {s}" for s in sorted(scalars)]
    if head:
        toml = ", ".join(f"{s} = {_q(sql)}" for s, sql in sorted(scalars.items()))
        head.insert(0, f"# wesley.toml needs: [scalars] {toml}")
        head.append("")
    return Rendered("\n".join([*lines[:2], *head, *lines[2:]]).rstrip("\n") + "\n", scalars)


def _graphql_type(
    col: Column, enums: dict[str, str], scalars: dict[str, str], names: _Names
) -> str:
    if col.enum:
        base = enums[col.enum]
    else:
        sql = col.type.removesuffix("[]") if col.array else col.type
        norm = normalize_type_name(sql, None, "column type")
        base = _SCALAR_OF.get(norm) or next((s for s, v in scalars.items() if v == norm), "")
        if not base:
            base = names.claim(_pascal(norm))
            scalars[base] = norm
    if col.array:
        return f"[{base}!]" + ("" if col.nullable else "!")
    return base + ("" if col.nullable else "!")


def _table(
    t: Table,
    types: dict[str, str],
    enums: dict[str, str],
    fields: dict[str, dict[str, str]],
    scalars: dict[str, str],
    names: _Names,
    relations: list[str],
) -> list[str]:
    own = fields[t.name]
    named = snake_case(types[t.name]) != t.name
    tdirs = [f"@wes_table(name: {_q(t.name)})" if named else "@wes_table"]
    if t.uid != f"tbl:{t.name}":
        tdirs.append(f"@wes_uid(value: {_q(t.uid)})")
    if len(t.primary_key) > 1:
        tdirs.append(f"@wes_pk(columns: {_list([own[c] for c in t.primary_key])})")
    single_unique = {
        u.columns[0]
        for u in t.uniques
        if len(u.columns) == 1 and u.name == constraint_name(t.name, u.columns, "key")
    }
    for u in t.uniques:
        if u.columns[0] in single_unique and len(u.columns) == 1:
            continue
        cols = _list([own[c] for c in u.columns])
        tdirs.append(f"@wes_unique(columns: {cols}, name: {_q(u.name)})")
    for ix in t.indexes:
        args = [f"columns: {_list([own[c] for c in ix.columns])}", f"name: {_q(ix.name)}"]
        if ix.using != "btree":
            args.append(f"using: {_q(ix.using)}")
        if ix.unique:
            args.append("unique: true")
        if ix.where:
            args.append(f"where: {_q(ix.where)}")
        tdirs.append(f"@wes_index({', '.join(args)})")
    for ck in t.checks:
        if ck.column is None:
            tdirs.append(f"@wes_check(expr: {_q(ck.expr)}, name: {_q(ck.name)})")
    tdirs.extend(_rls_directives(t, own))
    roles = _grant_roles(t.grants, TABLE_GRANT, f"table {t.name}")
    if roles:
        tdirs.append(f"@wes_grant(roles: {_list(roles)})")
    fks = {fk.columns[0]: fk for fk in t.foreign_keys if len(fk.columns) == 1}
    for fk in t.foreign_keys:
        if len(fk.columns) != 1:
            raise _unsupported(
                f"foreign key {fk.name} of {t.name} spans {len(fk.columns)} columns",
                "Wesley SDL declares a foreign key per column (@wes_fk)",
            )
    out = [f"type {types[t.name]} " + " ".join(tdirs) + " {"]
    for col in t.columns:
        dirs: list[str] = []
        if snake_case(own[col.name]) != col.name:
            dirs.append(f"@wes_column(name: {_q(col.name)})")
        if t.primary_key == [col.name]:
            dirs.append("@wes_pk")
        if col.name in single_unique:
            dirs.append("@wes_unique")
        if col.default is not None:
            dirs.append(f"@wes_default(expr: {_q(col.default.sql)})")
        key = fks.get(col.name)
        if key is not None:
            args = [f"ref: {_q(key.ref_table + '.' + key.ref_columns[0])}"]
            if key.on_delete != "NO ACTION":
                args.append(f"onDelete: {key.on_delete.replace(' ', '_')}")
            if key.on_update != "NO ACTION":
                args.append(f"onUpdate: {key.on_update.replace(' ', '_')}")
            args.append(f"name: {_q(key.name)}")
            dirs.append(f"@wes_fk({', '.join(args)})")
        for ck in t.checks:
            if ck.column == col.name:
                dirs.append(f"@wes_check(expr: {_q(ck.expr)}, name: {_q(ck.name)})")
        if col.updated_at:
            dirs.append("@wes_updatedAt")
        roles = _grant_roles(col.grants, COLUMN_GRANT, f"column {t.name}.{col.name}")
        if roles:
            dirs.append(f"@wes_grant(roles: {_list(roles)})")
        if col.uid != f"col:{t.name}.{col.name}":
            dirs.append(f"@wes_uid(value: {_q(col.uid)})")
        gtype = _graphql_type(col, enums, scalars, names)
        out.append(f"  {own[col.name]}: {gtype}" + ("" if not dirs else " " + " ".join(dirs)))
    out.extend(relations)
    out.append("}")
    return out


def _grant_roles(grants: list[Grant], gives: Sequence[str], where: str) -> list[str]:
    """The roles of `@wes_grant(roles:)` for `grants`, which must be what it gives there (all
    of SELECT, INSERT, UPDATE, DELETE on a table; SELECT on a column)."""
    out = []
    for g in grants:
        if sorted(g.privileges) != sorted(gives):
            raise _unsupported(
                f"{where}: role {g.role} holds {', '.join(g.privileges)}, which @wes_grant "
                f"cannot say (it gives {', '.join(gives)})",
                "grant or revoke in the database until each role holds all of those or none, "
                "then introspect again",
            )
        out.append("public" if g.role == PUBLIC else g.role)
    return out


def _relations(
    ir: IR, types: dict[str, str], fields: dict[str, dict[str, str]]
) -> dict[str, list[str]]:
    """Virtual relation fields for both sides of every foreign key, named as the ORM targets
    name them (`org_id` → `org`; the other side the referring type's name)."""
    renamed = ir.model_copy(
        update={
            "tables": [
                t.model_copy(
                    update={
                        "type_name": types[t.name],
                        "columns": [
                            c.model_copy(update={"field": fields[t.name][c.name]})
                            for c in t.columns
                        ],
                    }
                )
                for t in ir.tables
            ]
        }
    )
    taken = {t.name: set(fields[t.name].values()) for t in ir.tables}
    out: dict[str, list[str]] = {t.name: [] for t in ir.tables}
    for link in links(renamed, taken):
        target, owner = types[link.target.name], types[link.owner.name]
        out[link.owner.name].append(
            f"  {link.owner_field}: {target}{'' if link.optional else '!'} @wes_belongsTo"
        )
        if link.one_to_one:
            out[link.target.name].append(f"  {link.back_field}: {owner} @wes_hasOne")
        else:
            out[link.target.name].append(f"  {link.back_field}: [{owner}!]! @wes_hasMany")
    return out


def _same_policies(a: list[Policy], b: list[Policy]) -> bool:
    def key(p: Policy) -> tuple[object, ...]:
        return (
            p.name,
            p.command,
            p.permissive,
            tuple(sorted(p.roles)),
            comparable_expression(p.using) if p.using else None,
            comparable_expression(p.check) if p.check else None,
        )

    return sorted(map(key, a)) == sorted(map(key, b))


def _rls_directives(t: Table, own: dict[str, str]) -> list[str]:
    """@wes_tenant / @wes_owner / @wes_rls that derive exactly the table's policies."""
    if t.rls is None or not t.rls.enabled:
        if t.policies:
            raise _unsupported(
                f"{t.name} has policies but row-level security is disabled",
                "enable it (ALTER TABLE ... ENABLE ROW LEVEL SECURITY) or drop the policies",
            )
        return []
    by_suffix = {p.name: p for p in t.policies}

    def named(suffix: str) -> Policy | None:
        return by_suffix.get(constraint_name(t.name, [], suffix))

    tenant_by: str | None = None
    owner: Owner | None = None
    for col in t.columns:
        trial = t.model_copy(update={"tenant_by": col.name, "owner": None, "rls": Rls()})
        derived = derive_policies(trial)[0]
        got = named("tenant")
        if got and comparable_expression(got.using or "") == comparable_expression(
            derived.using or ""
        ):
            tenant_by = col.name
        trial = t.model_copy(update={"tenant_by": None, "owner": Owner(column=col.name)})
        trial = trial.model_copy(update={"rls": Rls()})
        derived = derive_policies(trial)[0]
        got = named("owner")
        if got and comparable_expression(got.using or "") == comparable_expression(
            derived.using or ""
        ):
            owner = Owner(column=col.name)
    # `roles:` is the TO of the owner and using/check policies (else of the first command's);
    # a command policy TO other roles says so with its own `<command>Roles:`
    others = [named(s) for s in ("owner", "all", "select", "insert", "update", "delete")]
    roles = next((p.roles for p in others if p is not None), [])
    all_p, sel, ins, upd, dele = (named(s) for s in ("all", "select", "insert", "update", "delete"))

    def own_roles(p: Policy | None) -> list[str]:
        return list(p.roles) if p is not None and sorted(p.roles) != sorted(roles) else []

    rls = Rls(
        enabled=True,
        force=t.rls.force,
        roles=list(roles),
        using=all_p.using if all_p else None,
        check=all_p.check if all_p else None,
        select=sel.using if sel else None,
        insert=ins.check if ins else None,
        update=upd.using if upd else None,
        delete=dele.using if dele else None,
        select_roles=own_roles(sel),
        insert_roles=own_roles(ins),
        update_roles=own_roles(upd),
        delete_roles=own_roles(dele),
    )
    trial = t.model_copy(update={"tenant_by": tenant_by, "owner": owner, "rls": rls})
    if not _same_policies(derive_policies(trial), t.policies):
        listed = ", ".join(p.name for p in t.policies)
        raise _unsupported(
            f"the policies of {t.name} ({listed}) are not ones @wes_tenant, @wes_owner or "
            "@wes_rls derive",
            "name them <table>_tenant/_owner/_all/_select/_insert/_update/_delete with the "
            "rules Wesley writes, or manage them outside Wesley",
        )
    out: list[str] = []
    if tenant_by:
        out.append(f"@wes_tenant(by: {_q(own[tenant_by])})")
    if owner:
        out.append(f"@wes_owner(column: {_q(own[owner.column])})")
    args: list[str] = []
    for key in ("using", "check", "select", "insert", "update", "delete"):
        value = getattr(rls, key)
        if value:
            args.append(f"{key}: {_q(value)}")
    if rls.roles:
        args.append(f"roles: {_list(rls.roles)}")
    for command in ("select", "insert", "update", "delete"):
        own_list: list[str] = getattr(rls, f"{command}_roles")
        if own_list:
            args.append(f"{command}Roles: {_list(own_list)}")
    if not rls.force:
        args.append("force: false")
    if args or not (tenant_by or owner):
        out.append(f"@wes_rls({', '.join(args)})" if args else "@wes_rls")
    return out
