"""Hypothesis strategies for random *valid* Wesley schemas and random valid v1 → v2 changes.

A schema is built as a `Schema` value (tables, columns, enums, directives) and printed as SDL
(`Schema.sdl()`), so a shrunk counterexample is a ready schema file. The strategy draws from
the whole directive set: single and composite keys, tenant tables sharing a parent, chains of
foreign keys and self-references, uniques and indexes (composite, hash, partial), field and
type checks, every scalar with a default (literal and, where the type has one, written as a
string), enums, `@wes_owner`, `@wes_tenant`, `@wes_rls` expressions and per-command roles,
`@wes_grant`; `migrations()` draws a schema and a list of valid edits to it (renames with
`@wes_renamedFrom`, additions, drops, type widening, defaults, NOT NULL, uniques, checks,
foreign keys, RLS, enum values).

Valid also means that the rows `rehearse --seed-rows` puts in v1 fit v2: a unique added later
is only put on a column whose seeded values are distinct, a check holds for them, NOT NULL is
only added where v1 filled the column through a default.

`FEATURES` names the parts whose fixes were in flight when this was written; `features()`
reads `WESLEY_GEN_FEATURES` (`all`, or a comma list; `-name` takes one away) so a soak can
switch them on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

# Each switch turns on schema shapes that an open fix covers (issue 9, items in brackets).
FEATURES: dict[str, str] = {
    "shared_tenant_parents": "several @wes_tenant tables under one parent (9a: probe collisions)",
    "multi_column_checks": "checks that read several columns (9a)",
    "policy_expressions": "@wes_rls expressions (9a: checked policy expressions)",
    "policy_roles": "@wes_rls(selectRoles:, ...) (9a: per-command roles)",
    "string_defaults": "defaults written as strings on non-text types (9b: typed defaults)",
    "grants": "@wes_grant on types and fields (9b: grants in the IR)",
    "probe_unique_json": "a unique JSON column on a tenant table (9a: probe rows collide)",
    "tenant_and_policy": "@wes_tenant and @wes_rls(select:) on one table (9a: probe expects "
    "an error where no policy lets the UPDATE through)",
    "tenant_and_owner": "@wes_tenant and @wes_owner on one table (9a: probes ignore the owner)",
}
# every feature is on: the fixes they waited for have landed (the last, grants while two
# versions are live: tests/gen/cases/migrations/grant-*)
DEFAULT_ON: frozenset[str] = frozenset(FEATURES)
# roles the generated grants and policies name; the test server gets them (see properties.py)
ROLES = ("wes_gen_reader", "wes_gen_writer")


def features(spec: str | None = None) -> frozenset[str]:
    """The switches in force: `spec` (else `WESLEY_GEN_FEATURES`) over DEFAULT_ON."""
    spec = os.environ.get("WESLEY_GEN_FEATURES", "") if spec is None else spec
    on = set(DEFAULT_ON)
    for raw in spec.split(","):
        word = raw.strip()
        if not word:
            continue
        if word == "all":
            on |= set(FEATURES)
        elif word == "none":
            on.clear()
        elif word.startswith("-"):
            on.discard(word[1:])
        elif word in FEATURES:
            on.add(word)
        else:
            raise ValueError(f"WESLEY_GEN_FEATURES: unknown feature {word!r}: {sorted(FEATURES)}")
    return frozenset(on)


# --- the model ---------------------------------------------------------------------------


def snake(name: str) -> str:
    """Wesley's column and table names (DESIGN §2): camelCase → snake_case."""
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", out).lower()


@dataclass(frozen=True)
class Column:
    field: str
    scalar: str  # a GraphQL scalar or an enum's name
    nullable: bool = True
    pk: bool = False
    unique: bool = False
    index: str | None = None  # "", "hash", "partial": @wes_index on the field
    default: str | None = None  # the @wes_default(...) arguments, as written
    check: str | None = None  # a field check (SQL over column names)
    fk: str | None = None  # "Type.field"
    on_delete: str | None = None
    renamed_from: str | None = None
    distinct: bool = False  # v1's seeded rows hold distinct values here (no default)
    grants: tuple[str, ...] = ()  # @wes_grant on the field: SELECT on the column

    @property
    def sql(self) -> str:
        return snake(self.field)

    def line(self) -> str:
        out = f"{self.field}: {self.scalar}{'' if self.nullable else '!'}"
        if self.pk:
            out += " @wes_pk"
        if self.default is not None:
            out += f" @wes_default({self.default})"
        if self.unique:
            out += " @wes_unique"
        if self.index == "":
            out += " @wes_index"
        elif self.index == "hash":
            out += ' @wes_index(using: "hash")'
        elif self.index == "partial":
            out += f' @wes_index(where: "{self.sql} IS NOT NULL")'
        if self.fk:
            out += f' @wes_fk(ref: "{self.fk}"'
            out += f", onDelete: {self.on_delete})" if self.on_delete else ")"
        if self.check:
            out += f' @wes_check(expr: "{self.check}")'
        if self.grants:
            out += f" @wes_grant(roles: {_list(self.grants)})"
        if self.renamed_from:
            out += f' @wes_renamedFrom(name: "{self.renamed_from}")'
        return out


@dataclass(frozen=True)
class Table:
    type_name: str
    columns: tuple[Column, ...]
    tenant_by: str | None = None  # a field name
    owner: str | None = None  # a field name
    policy: str | None = None  # @wes_rls(select:) expression
    policy_roles: tuple[str, ...] = ()  # @wes_rls(selectRoles:)
    grants: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()  # composite, by field name
    uniques: tuple[tuple[str, ...], ...] = ()
    checks: tuple[str, ...] = ()  # type-level checks
    renamed_from: str | None = None

    @property
    def sql(self) -> str:
        return snake(self.type_name)

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)

    @property
    def key(self) -> list[Column]:
        return [c for c in self.columns if c.pk]

    def sdl(self) -> str:
        head = f"type {self.type_name} @wes_table"
        if self.tenant_by:
            head += f' @wes_tenant(by: "{self.tenant_by}")'
        if self.owner:
            head += f' @wes_owner(column: "{self.owner}")'
        rls = []
        if self.policy:
            rls.append(f'select: "{self.policy}"')
        if self.policy_roles:
            rls.append(f"selectRoles: {_list(self.policy_roles)}")
        if rls:
            head += f" @wes_rls({', '.join(rls)})"
        if self.grants:
            head += f" @wes_grant(roles: {_list(self.grants)})"
        for cols in self.indexes:
            head += f" @wes_index(columns: {_list(cols)})"
        for cols in self.uniques:
            head += f" @wes_unique(columns: {_list(cols)})"
        for expr in self.checks:
            head += f' @wes_check(expr: "{expr}")'
        if self.renamed_from:
            head += f' @wes_renamedFrom(name: "{self.renamed_from}")'
        body = "\n".join(f"  {c.line()}" for c in self.columns)
        return f"{head} {{\n{body}\n}}"


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # the enums' values as v1 had them (the seeded rows use those)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"\n--- schema.graphql\n{self.sdl()}"

    def sdl(self) -> str:
        parts = [f"enum {name} {{ {' '.join(values)} }}" for name, values in self.enums]
        parts += [t.sdl() for t in self.tables]
        return "\n\n".join(parts) + "\n"

    def table(self, type_name: str) -> Table:
        return next(t for t in self.tables if t.type_name == type_name)

    def with_table(self, new: Table, old_name: str | None = None) -> Schema:
        name = old_name or new.type_name
        return replace(self, tables=tuple(new if t.type_name == name else t for t in self.tables))


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


# --- scalars ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    name: str
    literals: tuple[str, ...]  # @wes_default arguments, GraphQL literal form
    as_strings: tuple[str, ...]  # the same defaults written as strings (typed by Wesley)
    check: str | None  # a check that v1's seeded values and the defaults satisfy ({c})
    distinct: bool  # the seeder gives row g a value of its own
    hashable: bool = True  # may take a hash index
    widen_to: str | None = None


SCALARS: dict[str, Scalar] = {
    s.name: s
    for s in (
        Scalar(
            "Int",
            ("value: 3", "value: 0"),
            ('value: "3"', 'value: "0"'),
            "{c} >= 0",
            True,
            widen_to="BigInt",
        ),
        Scalar("BigInt", ("value: 10",), ('value: "10"',), "{c} > -1", True),
        Scalar("Float", ("value: 1.5",), ('value: "1.5"',), "{c} >= 0", True),
        Scalar("Decimal", ("value: 2.25",), ('value: "2.25"',), "{c} >= 0", True),
        Scalar("Boolean", ("value: false", "value: true"), ('value: "false"',), None, False),
        Scalar("String", ('value: "x"', 'value: "it\'s"'), (), "length({c}) > 0", True),
        Scalar(
            "DateTime",
            ('expr: "now()"',),
            ('value: "NOW()"', 'value: "2020-01-02T03:04:05Z"'),
            # a timestamp literal is stored in the server's time zone: see test_generated.py
            "{c} < 'infinity'",
            True,
        ),
        Scalar(
            "Date", ('expr: "CURRENT_DATE"',), ('value: "2020-01-02"',), "{c} < 'infinity'", True
        ),
        Scalar("Time", (), ('value: "04:05:06"',), None, True),
        Scalar("JSON", (), ('value: "{}"',), None, True, hashable=False),
        Scalar("Inet", (), ('value: "10.0.0.1"',), None, True, hashable=False),
        Scalar("UUID", ('expr: "gen_random_uuid()"',), (), None, True),
        Scalar("ID", ('expr: "gen_random_uuid()"',), (), None, True),
    )
}
KEY_SCALARS = ("ID", "UUID", "Int", "BigInt", "String")
WORDS = ("title", "score", "amountDue", "isActive", "bornOn", "seenAt", "meta", "code", "rank")
VOLATILE = ('expr: "gen_random_uuid()"', 'expr: "now()"')


def _defaults(scalar: str, enums: dict[str, tuple[str, ...]], on: frozenset[str]) -> list[str]:
    if scalar in enums:
        values = enums[scalar]
        return [f"value: {values[-1]}", *([f'value: "{values[0]}"'])]
    s = SCALARS[scalar]
    out = list(s.literals)
    if "string_defaults" in on:
        out += list(s.as_strings)
    return out


# --- schemas ---------------------------------------------------------------------------------


@st.composite
def _column(
    draw: st.DrawFn,
    field_name: str,
    enums: dict[str, tuple[str, ...]],
    on: frozenset[str],
) -> Column:
    scalar = draw(st.sampled_from(sorted(SCALARS) + sorted(enums)))
    nullable = draw(st.booleans())
    defaults = _defaults(scalar, enums, on)
    default = draw(st.sampled_from(defaults)) if bool(defaults) and draw(st.booleans()) else None
    s = SCALARS.get(scalar)
    unique = default is None and s is not None and s.distinct and draw(st.integers(0, 4)) == 0
    if scalar == "JSON" and "probe_unique_json" not in on:
        unique = False
    index = None
    if draw(st.integers(0, 3)) == 0:
        kinds = ["", "partial"] + (["hash"] if s is None or s.hashable else [])
        index = draw(st.sampled_from(kinds))
    check = None
    if s is not None and s.check and draw(st.integers(0, 3)) == 0:
        check = s.check.format(c=snake(field_name))
    return Column(
        field_name,
        scalar,
        nullable=nullable,
        unique=unique,
        index=index,
        default=default,
        check=check,
        distinct=default is None and (s is not None and s.distinct) and not nullable,
    )


def _key(draw: st.DrawFn, composite: bool) -> list[Column]:
    if composite:
        return [
            Column("k1", "Int", nullable=False, pk=True, distinct=True),
            Column("k2", draw(st.sampled_from(("String", "UUID"))), nullable=False, pk=True),
        ]
    scalar = draw(st.sampled_from(KEY_SCALARS))
    default = (
        'expr: "gen_random_uuid()"' if scalar in ("ID", "UUID") and draw(st.booleans()) else None
    )
    return [Column("id", scalar, nullable=False, pk=True, default=default, distinct=True)]


def _refable(tables: list[Table]) -> list[Table]:
    """Tables a foreign key may reference: single-column keys."""
    return [t for t in tables if len(t.key) == 1]


@st.composite
def schemas(draw: st.DrawFn, on: frozenset[str] | None = None, max_tables: int = 5) -> Schema:
    on = features() if on is None else on
    enums: dict[str, tuple[str, ...]] = {}
    for e in range(draw(st.integers(0, 2))):
        enums[f"Kind{e}"] = tuple(["LOW", "MID", "HIGH", "TOP"][: draw(st.integers(2, 4))])
    tables: list[Table] = []
    tenant_parents: dict[str, int] = {}  # parent type → tenant tables under it
    for t in range(draw(st.integers(1, max_tables))):
        tables.append(draw(_table(f"T{t}", tables, enums, on, tenant_parents)))
    return Schema(tuple(tables), tuple(enums.items()))


@st.composite
def _table(
    draw: st.DrawFn,
    type_name: str,
    before: list[Table],
    enums: dict[str, tuple[str, ...]],
    on: frozenset[str],
    tenant_parents: dict[str, int],
) -> Table:
    cols = _key(draw, composite=draw(st.integers(0, 4)) == 0)
    used = {c.field for c in cols}
    for i in range(draw(st.integers(0, 4))):
        name = f"{draw(st.sampled_from(WORDS))}{i}"
        cols.append(draw(_column(name, enums, on)))
        used.add(name)
    tenant_by = owner = policy = None
    policy_roles: tuple[str, ...] = ()
    # foreign keys: to earlier tables (chains), to itself (a tree)
    refable = _refable(before)
    tenant = draw(st.integers(0, 2)) == 0
    # a tenant table's probe rows need its parents' rows: unique per probe block (9a)
    if tenant and "shared_tenant_parents" not in on:
        refable = []
    for i in range(draw(st.integers(0, 2)) if refable else 0):
        parent = draw(st.sampled_from(refable))
        pkey = parent.key[0]
        nullable = draw(st.booleans())
        actions = ["CASCADE", "RESTRICT", None] + (["SET_NULL"] if nullable else [])
        cols.append(
            Column(
                f"ref{i}Id",
                pkey.scalar,
                nullable=nullable,
                fk=f"{parent.type_name}.{pkey.field}",
                on_delete=draw(st.sampled_from(actions)),
                index=draw(st.sampled_from((None, ""))),
                distinct=not nullable,
            )
        )
    if len(cols[0:1]) and not cols[0].field.startswith("k") and draw(st.integers(0, 3)) == 0:
        cols.append(
            Column(
                "parentId",
                cols[0].scalar,
                nullable=True,
                fk=f"{type_name}.id",
                on_delete=draw(st.sampled_from(("CASCADE", "SET_NULL", None))),
            )
        )
    # tenancy: a tenant column, referencing a parent that other tenant tables may share
    if tenant:
        parents = [
            t
            for t in _refable(before)
            if t.key[0].scalar in ("ID", "UUID")
            and ("shared_tenant_parents" in on or tenant_parents.get(t.type_name, 0) == 0)
        ]
        if "shared_tenant_parents" not in on:
            parents = []  # a probe block inserts its parents' rows: unique per block (9a)
        if bool(parents) and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            tenant_parents[parent.type_name] = tenant_parents.get(parent.type_name, 0) + 1
            cols.append(
                Column(
                    "orgId",
                    parent.key[0].scalar,
                    nullable=False,
                    fk=f"{parent.type_name}.{parent.key[0].field}",
                    on_delete="CASCADE",
                    distinct=True,
                )
            )
            tenant_by = "orgId"
        elif "shared_tenant_parents" in on or not any(tenant_parents.values()):
            tenant_parents[""] = tenant_parents.get("", 0) + 1
            cols.append(Column("tenantId", "UUID", nullable=False, distinct=True))
            tenant_by = "tenantId"
    if (tenant_by is None or "tenant_and_owner" in on) and draw(st.integers(0, 3)) == 0:
        cols.append(Column("ownerId", "ID", nullable=draw(st.booleans())))
        owner = "ownerId"
    plain = [c for c in cols if not c.pk and c.fk is None and c.field not in ("tenantId",)]
    policy_ok = tenant_by is None or "tenant_and_policy" in on
    if "policy_expressions" in on and policy_ok and plain and draw(st.integers(0, 3)) == 0:
        c = draw(st.sampled_from(plain))
        policy = f"{c.sql} IS NOT NULL OR {cols[0].sql} IS NOT NULL"
    if "policy_roles" in on and policy_ok and (policy or owner) and draw(st.booleans()):
        policy_roles = tuple(
            draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
        )
        if policy is None:
            policy = f"{cols[0].sql} IS NOT NULL"
    grants: tuple[str, ...] = ()
    if "grants" in on and draw(st.integers(0, 3)) == 0:
        grants = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True)))
    if "grants" in on and plain and draw(st.integers(0, 3)) == 0:
        # a column grant (SELECT on one column), beside a table grant or alone
        c = draw(st.sampled_from(plain))
        roles = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True)))
        cols = [replace(x, grants=roles) if x.field == c.field else x for x in cols]
    if tenant_by and "shared_tenant_parents" not in on:
        # the probe rows repeat a value in unique columns across tenants (9a)
        cols = [replace(c, unique=False) for c in cols]
    indexes: list[tuple[str, ...]] = []
    uniques: list[tuple[str, ...]] = []
    fields = [c.field for c in cols]
    if len(fields) >= 2 and draw(st.integers(0, 2)) == 0:
        indexes.append(tuple(draw(st.permutations(fields))[:2]))
    distinct = [c.field for c in cols if c.distinct and not c.pk]
    if tenant_by and "shared_tenant_parents" not in on:
        distinct = []
    if distinct and len(fields) >= 2 and draw(st.integers(0, 3)) == 0:
        first = draw(st.sampled_from(distinct))
        other = draw(st.sampled_from([f for f in fields if f != first]))
        uniques.append((first, other))
    checks: list[str] = []
    nums = [c for c in cols if c.scalar in ("Int", "BigInt", "Float", "Decimal") and not c.fk]
    if "multi_column_checks" in on and len(nums) >= 2 and draw(st.booleans()):
        a, b = nums[0], nums[1]
        # NULL passes a check; the seeder gives both row g's number g, the defaults are >= 0
        expr = f"{a.sql} >= 0 OR {b.sql} >= 0"
        if draw(st.booleans()):
            checks.append(expr)
        else:
            cols = [
                replace(c, check=expr) if c.field == b.field and not c.check else c for c in cols
            ]
    return Table(
        type_name,
        tuple(cols),
        tenant_by=tenant_by,
        owner=owner,
        policy=policy,
        policy_roles=policy_roles,
        grants=grants,
        indexes=tuple(indexes),
        uniques=tuple(uniques),
        checks=tuple(checks),
    )


# --- migrations ------------------------------------------------------------------------------

EDITS = (
    "add_table",
    "drop_table",
    "rename_table",
    "add_column",
    "drop_column",
    "rename_column",
    "add_index",
    "drop_index",
    "add_unique",
    "add_check",
    "drop_check",
    "set_default",
    "drop_default",
    "drop_not_null",
    "set_not_null",
    "add_enum_value",
    "add_fk",
    "widen",
    "add_owner",
    "drop_rls",
    "add_grant",
)


@dataclass(frozen=True)
class Migration:
    v1: Schema
    v2: Schema
    edits: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"Migration(edits={self.edits!r})\n--- v1.graphql\n{self.v1.sdl()}"
            f"--- v2.graphql\n{self.v2.sdl()}"
        )


def _referenced(schema: Schema, table: Table) -> bool:
    return any(
        c.fk and c.fk.split(".")[0] == table.type_name
        for t in schema.tables
        if t.type_name != table.type_name
        for c in t.columns
    )


def _in_expressions(table: Table, col: Column) -> bool:
    """The column's SQL name appears in an expression of the table (checks, policies)."""
    texts = [c.check or "" for c in table.columns] + list(table.checks) + [table.policy or ""]
    texts += [c.sql for c in table.columns if c.index == "partial" and c.field == col.field]
    return any(re.search(rf"\b{re.escape(col.sql)}\b", t) for t in texts if t)


def _role(table: Table, col: Column) -> bool:
    """A key, tenant or owner column, or one a composite index or unique names."""
    named = {f for cols in (*table.indexes, *table.uniques) for f in cols}
    return col.pk or col.field in (table.tenant_by, table.owner) or col.field in named


@st.composite
def migrations(draw: st.DrawFn, on: frozenset[str] | None = None) -> Migration:
    on = features() if on is None else on
    v1 = draw(schemas(on=on, max_tables=4))
    v2 = v1
    done: list[str] = []
    fresh = 0
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(EDITS))
        if edit == "add_grant" and "grants" not in on:
            continue
        fresh += 1
        changed = _edit(draw, edit, v1, v2, on, fresh)
        if changed is not None:
            v2 = changed
            done.append(edit)
    return Migration(v1, v2, tuple(done))


def _pick_table(draw: st.DrawFn, v1: Schema, v2: Schema) -> Table | None:
    """A table of v2 that was in v1 (under this or an older name)."""
    old_names = {t.type_name for t in v1.tables}
    olds = [t for t in v2.tables if t.type_name in old_names or t.renamed_from in old_names]
    return draw(st.sampled_from(olds)) if olds else None


def _was(v1: Schema, table: Table) -> Table | None:
    names = {t.type_name: t for t in v1.tables}
    return names.get(table.renamed_from or table.type_name)


def _old_col(v1: Schema, table: Table, col: Column) -> Column | None:
    before = _was(v1, table)
    if before is None:
        return None
    want = col.renamed_from or col.field
    return next((c for c in before.columns if c.field == want), None)


def _edit(
    draw: st.DrawFn, edit: str, v1: Schema, v2: Schema, on: frozenset[str], n: int
) -> Schema | None:
    enums = dict(v2.enums)
    if edit == "add_table":
        added = draw(
            _table(f"N{n}", list(v2.tables), enums, on - {"shared_tenant_parents"}, {"x": 1})
        )
        return replace(v2, tables=(*v2.tables, added))
    if edit == "add_enum_value":
        if not v2.enums:
            return None
        name, _values = draw(st.sampled_from(v2.enums))
        extra = f"NEW{n}"
        return replace(
            v2, enums=tuple((e, (*vs, extra) if e == name else vs) for e, vs in v2.enums)
        )
    table = _pick_table(draw, v1, v2)
    if table is None:
        return None
    was = _was(v1, table)
    if edit == "drop_table":
        if _referenced(v2, table) or len(v2.tables) == 1:
            return None
        return replace(v2, tables=tuple(t for t in v2.tables if t is not table))
    if edit == "rename_table":
        if table.renamed_from or _referenced(v2, table) or was is None:
            return None
        name = f"R{n}{table.type_name}"
        cols = tuple(
            replace(c, fk=f"{name}.{c.fk.split('.')[1]}")
            if c.fk and c.fk.split(".")[0] == table.type_name
            else c
            for c in table.columns
        )
        new = replace(table, type_name=name, renamed_from=table.type_name, columns=cols)
        return v2.with_table(new, table.type_name)
    if edit == "add_column":
        choice = draw(st.sampled_from(("nullable", "default", "volatile")))
        if choice == "nullable":
            col = draw(_column(f"added{n}", enums, on))
            col = replace(col, nullable=True, distinct=False)
        elif choice == "default":
            col = Column(f"added{n}", "Int", nullable=False, default="value: 7")
        else:
            col = Column(f"added{n}", "UUID", nullable=False, default='expr: "gen_random_uuid()"')
        return v2.with_table(replace(table, columns=(*table.columns, col)))
    # edits on a column that v1 had
    olds = [c for c in table.columns if _old_col(v1, table, c) is not None]
    if edit == "add_owner":
        if table.owner or any(c.field == "ownerId" for c in table.columns):
            return None
        if table.tenant_by and "tenant_and_owner" not in on:
            return None
        col = Column("ownerId", "UUID", nullable=True)
        return v2.with_table(replace(table, columns=(*table.columns, col), owner="ownerId"))
    if edit == "drop_rls":
        if not (table.tenant_by or table.owner or table.policy):
            return None
        return v2.with_table(
            replace(table, tenant_by=None, owner=None, policy=None, policy_roles=())
        )
    if edit == "add_grant":
        if draw(st.booleans()):
            return v2.with_table(replace(table, grants=ROLES[:1] if table.grants else ROLES))
        col = draw(st.sampled_from(table.columns))
        return _with_col(v2, table, col, replace(col, grants=ROLES[1:] if col.grants else ROLES))
    if edit == "add_index":
        if draw(st.booleans()) and len(table.columns) >= 2:
            pair = tuple(c.field for c in draw(st.permutations(table.columns))[:2])
            if pair in table.indexes:
                return None
            return v2.with_table(replace(table, indexes=(*table.indexes, pair)))
        cands = [c for c in table.columns if c.index is None]
        if not cands:
            return None
        col = draw(st.sampled_from(cands))
        return _with_col(v2, table, col, replace(col, index=""))
    if edit == "drop_index":
        if table.indexes:
            return v2.with_table(replace(table, indexes=table.indexes[1:]))
        cands = [c for c in table.columns if c.index is not None]
        if not cands:
            return None
        col = draw(st.sampled_from(cands))
        return _with_col(v2, table, col, replace(col, index=None))
    if not olds:
        return None
    col = draw(st.sampled_from(olds))
    old = _old_col(v1, table, col)
    assert old is not None
    if edit == "drop_column":
        if _role(table, col) or col.fk or _in_expressions(table, col):
            return None
        return v2.with_table(
            replace(table, columns=tuple(c for c in table.columns if c is not col))
        )
    if edit == "rename_column":
        if (
            col.renamed_from
            or col.pk
            or _in_expressions(table, col)
            or _referenced_col(v2, table, col)
        ):
            return None
        if col.field in (table.tenant_by, table.owner) or _role(table, col):
            return None
        return _with_col(
            v2, table, col, replace(col, field=f"{col.field}V{n}", renamed_from=col.field)
        )
    if edit == "add_unique":
        # v1's rows hold distinct values (or only NULLs) in it
        all_null = old.nullable and old.default is None and not old.fk and not old.distinct
        if table.tenant_by and "shared_tenant_parents" not in on:
            return None
        if col.unique or col.pk or not (old.distinct or all_null) or col.scalar in enums:
            return None
        if col.scalar != old.scalar or SCALARS.get(col.scalar) is None:
            return None
        if not SCALARS[col.scalar].distinct:
            return None
        if col.scalar == "JSON" and "probe_unique_json" not in on:
            return None
        return _with_col(v2, table, col, replace(col, unique=True))
    if edit == "add_check":
        s = SCALARS.get(col.scalar)
        if col.check or s is None or not s.check or col.scalar != old.scalar or _role(table, col):
            return None
        return _with_col(v2, table, col, replace(col, check=s.check.format(c=col.sql)))
    if edit == "drop_check":
        if not col.check:
            return None
        return _with_col(v2, table, col, replace(col, check=None))
    if edit == "set_default":
        if col.pk or col.fk:
            return None
        defaults = _defaults(col.scalar, enums, on)
        if not defaults:
            return None
        return _with_col(v2, table, col, replace(col, default=draw(st.sampled_from(defaults))))
    if edit == "drop_default":
        if col.default is None or (not col.nullable and col.default in VOLATILE) or col.pk:
            return None
        return _with_col(v2, table, col, replace(col, default=None))
    if edit == "drop_not_null":
        if col.nullable or col.pk or col.field == table.tenant_by:
            return None
        return _with_col(v2, table, col, replace(col, nullable=True))
    if edit == "set_not_null":
        # v1's rows have a value: a NOT NULL column, or one the seeder filled from a default
        if not col.nullable or (old.default is None and old.nullable and not old.fk):
            return None
        if old.fk or col.default is None:
            return None
        return _with_col(v2, table, col, replace(col, nullable=False))
    if edit == "add_fk":
        targets = [t for t in _refable(list(v2.tables)) if _was(v1, t) is not None]
        if not targets:
            return None
        parent = draw(st.sampled_from(targets))
        key = parent.key[0]
        fk = Column(
            f"link{n}Id",
            key.scalar,
            nullable=True,
            fk=f"{parent.type_name}.{key.field}",
            on_delete=draw(st.sampled_from(("CASCADE", "SET_NULL", None))),
        )
        if parent.type_name == table.type_name:
            return None
        return v2.with_table(replace(table, columns=(*table.columns, fk)))
    if edit == "widen":
        s = SCALARS.get(col.scalar)
        if s is None or s.widen_to is None or _role(table, col) or col.fk:
            return None
        if table.policy and re.search(rf"\b{col.sql}\b", table.policy):
            # Wesley refuses it (PLAN_BLOCKED: change the policy in a migration of its own
            # first; tests/test_generated.py::test_widening_a_column_a_policy_reads_is_refused)
            return None
        if _referenced_col(v2, table, col):
            return None
        default = col.default
        return _with_col(v2, table, col, replace(col, scalar=s.widen_to, default=default))
    raise AssertionError(edit)


def _referenced_col(schema: Schema, table: Table, col: Column) -> bool:
    ref = f"{table.type_name}.{col.field}"
    return any(c.fk == ref for t in schema.tables for c in t.columns)


def _with_col(schema: Schema, table: Table, old: Column, new: Column) -> Schema:
    cols = tuple(new if c is old else c for c in table.columns)
    return schema.with_table(replace(table, columns=cols))
