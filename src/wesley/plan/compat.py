"""Two schema versions live at once: the expand/contract decomposition of a plan that renames
or rewrites (pure; see docs/expand-contract.md).

The old application keeps running on `public` while the new one starts, so nothing it uses may
change until `deploy --complete`:

- a renamed table or column keeps its old name in `public`; the new version reads and writes it
  through a view under the new name in a *version schema*;
- a column whose type change rewrites the table gets a *shadow column* of the new type, kept
  equal to the old one by a trigger both ways, backfilled in batches, and given the column's
  indexes, constraints and foreign keys (built CONCURRENTLY); the new version's view shows the
  shadow under the column's name;
- `--complete` (the contract phase) swaps the shadow in (one catalog-only ALTER TABLE per
  table), renames for real, and drops the views: a new-version session whose search_path is
  `"<version schema>", public` then resolves the same names to `public`, whose tables now are
  exactly the new schema.

`flight_for` works out the *flight schema* (`mid`): what `public` holds while both versions run
(the new schema with old names and, for shadowed columns, the old column and its old
constraints). The ordinary planner migrates `old → mid`; the operations `change_type`,
`version_schema` and the renames at contract take `mid` to the new schema.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from wesley.ir import IR, PRIVILEGES, Column, Enum, ForeignKey, Grant, Index, Table, Unique
from wesley.naming import MAX_IDENTIFIER_BYTES
from wesley.plan.diff import (
    Change,
    column_renames,
    grant_changes,
    match_columns,
    match_tables,
    rename_map,
)
from wesley.plan.locks import TableContext, classify
from wesley.sdl.expressions import bare_type, column_refs, rename_columns
from wesley.sqltext import column_type, quote_ident
from wesley.targets.sqlnames import format_type, pk_name

PREFIX = "_wes_"
SCHEMA_PREFIX = "wes_v_"
OLD_SEARCH_PATH = "public"


def prefixed(name: str, prefix: str = PREFIX) -> str:
    """`prefix + name`, cut to 63 bytes with a short hash of the whole when too long."""
    full = prefix + name
    if len(full.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    head = full.encode("utf-8")[: MAX_IDENTIFIER_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}_{digest}"


def version_schema(to_ir_hash: str) -> str:
    """The new version's schema, named for the schema it serves (the same new schema always
    gets the same name, whatever the old one was)."""
    return SCHEMA_PREFIX + to_ir_hash[:12]


def base_type(col: Column) -> str:
    """The column's type without its modifier (`varchar(20)` → `varchar`): a CAST to it never
    truncates, and assigning the result to the column applies the modifier with an error, as
    an INSERT would."""
    return column_type(col) if col.enum else bare_type(column_type(col))


_LENGTH = re.compile(r"^(varchar|char|bpchar|character varying|character)\((\d+)\)$")
_TEXTUAL = ("text", "varchar", "char", "bpchar", "character varying", "character")
_INT_RANGE = {"smallint": 32767, "integer": 2147483647}
_INT_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8}


def fits_check(old: Column, new: Column) -> str | None:
    """A check on the old column that its values fit the new type, when the new type is
    narrower: validated before the backfill (so a row that cannot be converted is found by a
    scan that blocks no writes), and enforced on the old version's writes at once."""
    if old.array or new.array or old.enum or new.enum or new.cast is not None:
        return None
    c = quote_ident(old.name)
    length = _LENGTH.match(new.type)
    if length and old.type.split("(")[0] in _TEXTUAL:
        was = _LENGTH.match(old.type)
        if was is None or int(was.group(2)) > int(length.group(2)):
            return f"char_length({c}) <= {int(length.group(2))}"
    narrower = old.type in _INT_WIDTH and new.type in _INT_RANGE
    if narrower and _INT_WIDTH[old.type] > _INT_WIDTH[new.type]:
        top = _INT_RANGE[new.type]
        return f"{c} BETWEEN {-top - 1} AND {top}"
    return None


@dataclass(frozen=True)
class Shadow:
    """One column whose type change rewrites: the shadow column and its two conversions."""

    table: str  # the table's name in the new schema
    phys: str  # the table's name in public until --complete
    old: Column
    new: Column
    shadow: str  # the shadow column's name until --complete
    up: str  # SQL: the new value, reading the old column by its name
    down: str  # SQL: the old value, reading the new column by its (new) name
    fits: str | None  # check on the old column: its values fit the new type
    trigger: str
    function: str  # in the version schema

    @property
    def where(self) -> str:
        return f"{self.table}.{self.new.name}"

    def up_in_trigger(self) -> str:
        return rename_columns(self.up, {self.old.name: self.old.name}, "new")

    def down_in_trigger(self) -> str:
        return rename_columns(self.down, {self.new.name: self.shadow}, "new")


@dataclass(frozen=True)
class View:
    name: str  # the table's name in the new schema: the view's name in the version schema
    table: str  # the physical table in public
    columns: tuple[tuple[str, str], ...]  # (name in the new schema, physical column)


@dataclass
class Flight:
    schema: str
    mid: IR
    shadows: list[Shadow]
    views: list[View]
    tables: dict[str, str]  # new table name → physical name until --complete
    columns: dict[str, dict[str, str]]  # new table name → {new column → physical column}
    renames: list[Change]  # the real renames, at --complete
    retired_enums: list[Enum]  # enum types only shadowed columns still use
    blocked: list[tuple[Change, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def contract_begun(self) -> str:
        """SQL: true once `--complete` has changed a name the steps before the contract use
        (an old column swapped out, a column or table renamed). Those steps' guards may no
        longer be able to run then; the executor skips them (they were done)."""
        from wesley.plan.operations.base import lit, rel

        marks: list[str] = []
        for s in self.shadows:
            marks.append(
                f"NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {rel(s.phys)} AND "
                f"attname = {lit(s.old.name)} AND NOT attisdropped AND "
                f"format_type(atttypid, atttypmod) = {lit(format_type(s.old))})"
            )
        for table, cols in self.columns.items():
            phys = self.phys_table(table)
            if phys != table:
                marks.append(f"{rel(phys)} IS NULL")
            for new, src in cols.items():
                if src != new and not src.startswith(PREFIX):
                    marks.append(
                        f"NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {rel(phys)} "
                        f"AND attname = {lit(src)} AND NOT attisdropped)"
                    )
        return "SELECT " + " OR ".join(dict.fromkeys(marks))

    @property
    def new_search_path(self) -> str:
        return f"{quote_ident(self.schema)}, public"

    def phys_table(self, name: str) -> str:
        return self.tables.get(name, name)

    def phys_column(self, table: str, column: str) -> str:
        return self.columns.get(table, {}).get(column, column)

    def shadow(self, table: str, column: str) -> Shadow | None:
        return next((s for s in self.shadows if s.table == table and s.new.name == column), None)

    def shadowed(self, table: str) -> list[Shadow]:
        return [s for s in self.shadows if s.table == table]

    def involves(self, table: str, columns: Iterable[str]) -> bool:
        names = {s.new.name for s in self.shadowed(table)}
        return any(c in names for c in columns)


def rewrites(change: Change, version: int) -> bool:
    """Whether ALTER COLUMN TYPE would rewrite the table (the lock classifier decides)."""
    probe = (
        f"ALTER TABLE {quote_ident(change.table)} ALTER COLUMN "
        f"{quote_ident(change.new.name)} TYPE {column_type(change.new)}"
    )
    old_types = {change.new.name: column_type(change.old)}
    context = {change.table: TableContext(column_types=old_types)}
    return classify(probe, version, context).rewrite


def _shadow(t: Table, phys: str, old: Column, new: Column, schema: str) -> Shadow:
    up_from = new.cast.using if new.cast and new.cast.using else quote_ident(old.name)
    down_from = new.cast.reverse if new.cast and new.cast.reverse else quote_ident(new.name)
    if new.cast and new.cast.using:
        # `using` may name the column by the name @wes_renamedFrom gives (a GraphQL field name)
        refs = column_refs(up_from) - {old.name}
        up_from = rename_columns(up_from, dict.fromkeys(refs, old.name))
    return Shadow(
        table=t.name,
        phys=phys,
        old=old,
        new=new,
        shadow=prefixed(new.name),
        up=f"CAST(({up_from}) AS {base_type(new)})",
        down=f"CAST(({down_from}) AS {base_type(old)})",
        fits=fits_check(old, new),
        trigger=prefixed(f"sync_{new.name}"),
        function=prefixed(f"sync_{t.name}_{new.name}"),
    )


def _involves_fk(fk: ForeignKey, table: str, shadowed: set[tuple[str, str]]) -> bool:
    return any((table, c) in shadowed for c in fk.columns) or any(
        (fk.ref_table, c) in shadowed for c in fk.ref_columns
    )


def _expr_cols(sql: str | None) -> set[str]:
    return column_refs(sql) if sql else set()


def flight_for(
    old: IR, new: IR, changes: list[Change], version: int, to_hash: str
) -> Flight | None:
    """The flight of a plan that renames or rewrites, or None when nothing needs two
    versions (the plan then completes in one deploy, as before)."""
    pairs = match_tables(old, new)
    col_renames = column_renames(pairs)
    renamed_tables = {t.name: o.name for o, t in pairs if o and t and o.name != t.name}
    shadow_changes = [c for c in changes if c.kind == "alter_column_type" and rewrites(c, version)]
    if not renamed_tables and not col_renames and not shadow_changes:
        return None
    schema = version_schema(to_hash)
    by_new = {t.name: (o, t) for o, t in pairs if o is not None and t is not None}
    shadows: list[Shadow] = []
    for c in shadow_changes:
        was, now = by_new[c.table]
        shadows.append(_shadow(now, was.name, c.old, c.new, schema))
    shadowed = {(s.table, s.new.name) for s in shadows}
    old_shadowed = {(s.phys, s.old.name) for s in shadows}
    flight = Flight(
        schema=schema,
        mid=IR(),
        shadows=shadows,
        views=[],
        tables={t.name: o.name for o, t in pairs if o and t},
        columns={},
        renames=[],
        retired_enums=[],
    )
    for o, t in pairs:
        if o is None or t is None:
            continue
        cols: dict[str, str] = {}
        for oc, nc in match_columns(o, t):
            if nc is None:
                continue
            if (t.name, nc.name) in shadowed:
                cols[nc.name] = prefixed(nc.name)
            else:
                cols[nc.name] = oc.name if oc is not None else nc.name
        flight.columns[t.name] = cols
    tables: list[Table] = []
    for o, t in pairs:
        if t is None:
            continue
        mid = _mid_table(o, t, flight, col_renames.get(t.name, {}), shadowed, old_shadowed)
        tables.append(mid)
        if o is not None and (
            o.name != t.name or t.name in col_renames or any(s.table == t.name for s in shadows)
        ):
            flight.views.append(
                View(
                    t.name,
                    o.name,
                    tuple((c.name, flight.phys_column(t.name, c.name)) for c in t.columns),
                )
            )
        if o is not None:
            flight.renames += _renames(o, t, col_renames, renamed_tables, shadowed)
        for p in t.policies:
            reads = _expr_cols(p.using) | _expr_cols(p.check)
            if flight.involves(t.name, reads):
                flight.blocked.append(
                    (
                        Change("alter_column_type", t.name, old=None, new=None),
                        f"policy {p.name} reads a column of {t.name} whose type changes: "
                        "PostgreSQL cannot drop the old column under the policy, and dropping "
                        "the policy for the swap would leave the table without it for a "
                        "moment; change the policy in a migration of its own first",
                    )
                )
    used = {c.enum for t in tables for c in t.columns if c.enum}
    enums = list(new.enums)
    have = {e.name for e in enums}
    for e in old.enums:
        if e.name in used and e.name not in have:
            enums.append(e)
            flight.retired_enums.append(e)
    # @wes_rpc functions keep their old bodies while two versions run (the old version calls
    # them by the old names); the contract replaces them (see build_plan)
    kept = {f.name: f for f in old.functions}
    functions = [kept.get(f.name, f) for f in new.functions]
    functions += [f for f in old.functions if f.name not in {g.name for g in functions}]
    flight.mid = IR(tables=tables, enums=enums, functions=functions)
    flight.blocked += _name_clashes(flight)
    return flight


def _name_clashes(flight: Flight) -> list[tuple[Change, str]]:
    """A rename onto a name that is still taken when the renames run (two columns or tables
    swapping names): the contract renames one at a time, so it cannot."""
    out: list[tuple[Change, str]] = []
    mid_tables = {t.name for t in flight.mid.tables}
    for change in flight.renames:
        if change.kind == "rename_table" and change.table in mid_tables:
            out.append(
                (
                    change,
                    f"{change.old.name} is renamed to {change.table}, which another table of "
                    "the old schema is still called while both versions run: rename one of "
                    "them in a migration of its own first",
                )
            )
        if change.kind == "rename_column":
            phys = flight.mid.table(flight.phys_table(change.table))
            taken = {c.name for c in phys.columns} if phys else set()
            if change.new.name in taken:
                out.append(
                    (
                        change,
                        f"{change.table}.{change.old.name} is renamed to {change.new.name}, "
                        "which another column is still called while both versions run: "
                        "rename one of them in a migration of its own first",
                    )
                )
    return out


def _mid_table(
    o: Table | None,
    t: Table,
    flight: Flight,
    cmap: dict[str, str],
    shadowed: set[tuple[str, str]],
    old_shadowed: set[tuple[str, str]],
) -> Table:
    """The table as public holds it while both versions run."""
    back = {new: old for old, new in cmap.items()}

    def phys_cols(table: str, names: list[str]) -> list[str]:
        return [flight.phys_column(table, n) for n in names]

    def expr(sql: str | None) -> str | None:
        return rename_columns(sql, back) if sql else None

    def mid_fk(fk: ForeignKey) -> ForeignKey:
        return fk.model_copy(
            update={
                "columns": phys_cols(t.name, fk.columns),
                "ref_table": flight.phys_table(fk.ref_table),
                "ref_columns": phys_cols(fk.ref_table, fk.ref_columns),
            }
        )

    if o is None:  # a new table: only its references may need old names
        fks = [mid_fk(fk) for fk in t.foreign_keys if not _involves_fk(fk, t.name, shadowed)]
        return t.model_copy(update={"foreign_keys": fks})
    names = _inverse_names(o, t, cmap, flight)
    columns: list[Column] = []
    pairs = {nc.name: oc for oc, nc in match_columns(o, t) if nc is not None}
    for nc in t.columns:
        oc = pairs.get(nc.name)
        if oc is not None and (t.name, nc.name) in shadowed:
            columns.append(oc)
        elif oc is not None and oc.name != nc.name:
            # renamed_from its own old name: the diff old → flight pairs it with that column
            # (its uid is the new one, which could otherwise pair it with another column)
            both = union_grants(oc.grants, nc.grants)
            columns.append(
                nc.model_copy(update={"name": oc.name, "renamed_from": oc.name, "grants": both})
            )
        elif oc is not None:
            columns.append(nc.model_copy(update={"grants": union_grants(oc.grants, nc.grants)}))
        else:
            columns.append(nc)
    involved = {s.new.name for s in flight.shadowed(t.name)}
    old_involved = {c for tb, c in old_shadowed if tb == o.name}

    def keep_new(cols: Iterable[str]) -> bool:
        return not any(c in involved for c in cols)

    def old_kept(cols: Iterable[str]) -> bool:
        return any(c in old_involved for c in cols)

    pk = o.primary_key if not keep_new(t.primary_key) else phys_cols(t.name, t.primary_key)
    uniques = [
        Unique(name=names.get(u.name, u.name), columns=phys_cols(t.name, u.columns))
        for u in t.uniques
        if keep_new(u.columns)
    ] + [u for u in o.uniques if old_kept(u.columns)]
    indexes = [
        ix.model_copy(
            update={
                "name": names.get(ix.name, ix.name),
                "columns": phys_cols(t.name, ix.columns),
                "where": expr(ix.where),
            }
        )
        for ix in t.indexes
        if keep_new([*ix.columns, *_expr_cols(ix.where)])
    ] + [ix for ix in o.indexes if old_kept([*ix.columns, *_expr_cols(ix.where)])]
    checks = [
        ck.model_copy(
            update={
                "name": names.get(ck.name, ck.name),
                "expr": expr(ck.expr),
                "column": back.get(ck.column, ck.column) if ck.column else None,
            }
        )
        for ck in t.checks
        if keep_new([*([ck.column] if ck.column else []), *_expr_cols(ck.expr)])
    ] + [
        ck
        for ck in o.checks
        if old_kept([*([ck.column] if ck.column else []), *_expr_cols(ck.expr)])
    ]
    fks = [
        mid_fk(fk).model_copy(update={"name": names.get(fk.name, fk.name)})
        for fk in t.foreign_keys
        if not _involves_fk(fk, t.name, shadowed)
    ] + [fk for fk in o.foreign_keys if _old_fk_involves(fk, o.name, old_shadowed)]
    policies = [
        p.model_copy(
            update={
                "name": names.get(p.name, p.name),
                "using": expr(p.using),
                "check": expr(p.check),
            }
        )
        for p in t.policies
    ]
    return t.model_copy(
        update={
            "name": o.name,
            "renamed_from": o.name,
            "columns": columns,
            "primary_key": pk,
            "uniques": uniques,
            "indexes": indexes,
            "checks": checks,
            "foreign_keys": fks,
            "policies": policies,
            # new access is granted at the switch, old access revoked at --complete: while both
            # versions run, public holds both (contract_grant_changes takes the old away)
            "grants": union_grants(o.grants, t.grants),
            "owner": t.owner.model_copy(update={"column": back.get(t.owner.column, t.owner.column)})
            if t.owner
            else None,
            "tenant_by": back.get(t.tenant_by, t.tenant_by) if t.tenant_by else None,
        }
    )


def union_grants(a: list[Grant], b: list[Grant]) -> list[Grant]:
    """Every privilege either list gives, one Grant per role (in role order)."""
    held: dict[str, set[str]] = {}
    for g in (*a, *b):
        held.setdefault(g.role, set()).update(g.privileges)
    return [
        Grant(role=r, privileges=[p for p in PRIVILEGES if p in ps])
        for r, ps in sorted(held.items())
    ]


def contract_grant_changes(flight: Flight, new: IR) -> list[Change]:
    """The REVOKEs (and the column re-GRANTs a table-level REVOKE makes necessary) that take
    the flight schema's privileges (old and new: `union_grants`) to the new schema's, under
    the flight's table and column names; run in the contract, before its renames. A column
    whose type changes is re-granted on its shadow, which becomes the column."""
    out: list[Change] = []
    news = {t.uid: t for t in new.tables}
    shadows = {(s.phys, s.old.name): s.shadow for s in flight.shadows}
    for m in flight.mid.tables:
        t = news.get(m.uid)
        if t is None:
            continue
        cols = {c.uid: c for c in t.columns}
        target = m.model_copy(
            update={
                "grants": t.grants,
                "columns": [
                    c.model_copy(update={"grants": cols[c.uid].grants}) if c.uid in cols else c
                    for c in m.columns
                ],
            }
        )
        for c in grant_changes(m, target):
            if c.kind == "revoke":
                out.append(c)
            elif c.detail:  # a regrant
                column = shadows.get((m.name, str(c.column)), c.column)
                out.append(replace(c, column=column))
    return out


def _old_fk_involves(fk: ForeignKey, table: str, old_shadowed: set[tuple[str, str]]) -> bool:
    return any((table, c) in old_shadowed for c in fk.columns) or any(
        (fk.ref_table, c) in old_shadowed for c in fk.ref_columns
    )


def _inverse_names(o: Table, t: Table, cmap: dict[str, str], flight: Flight) -> dict[str, str]:
    """New derived name → old name, for the objects that keep their old name until the
    renames at --complete."""
    return {new: old for old, new in _derived(o, t, cmap, flight).items()}


def _derived(o: Table, t: Table, cmap: dict[str, str], flight: Flight) -> dict[str, str]:
    from wesley.plan.diff import _with_columns  # the old table under the new column names

    mapping = rename_map(_with_columns(o, cmap), t, cmap)
    involved = {s.new.name for s in flight.shadowed(t.name)}

    def touches(x: Any) -> bool:
        cols = list(getattr(x, "columns", None) or [])
        own = getattr(x, "column", None)
        refs = _expr_cols(getattr(x, "expr", None)) | _expr_cols(getattr(x, "where", None))
        return any(c in involved for c in [*cols, *([own] if own else []), *refs])

    items: list[Any] = [*t.uniques, *t.indexes, *t.foreign_keys, *t.checks]
    objects: dict[str, Any] = {x.name: x for x in items}
    return {
        old: new for old, new in mapping.items() if new not in objects or not touches(objects[new])
    }


def _renames(
    o: Table,
    t: Table,
    col_renames: dict[str, dict[str, str]],
    renamed_tables: dict[str, str],
    shadowed: set[tuple[str, str]],
) -> list[Change]:
    """The real renames of --complete: the table, its renamed columns (a shadowed one is
    renamed by the swap instead), and the names derived from them."""
    from wesley.plan.diff import _renamed_objects, _with_columns

    out: list[Change] = []
    if o.name != t.name:
        out.append(Change("rename_table", t.name, old=o, new=t))
    for oc, nc in match_columns(o, t):
        if oc is None or nc is None or oc.name == nc.name or (t.name, nc.name) in shadowed:
            continue
        out.append(Change("rename_column", t.name, nc.name, old=oc, new=nc))
    cmap = col_renames.get(t.name, {})
    involved = {c for tb, c in shadowed if tb == t.name}
    for change in _renamed_objects(_with_columns(o, cmap), t, cmap):
        x = change.new
        cols = list(getattr(x, "columns", None) or [])
        if change.kind == "rename_constraint" and not cols and x.name == pk_name(t):
            cols = t.primary_key
        if any(c in involved for c in cols):
            continue  # rebuilt on the shadow column under its final name
        out.append(change)
    del renamed_tables
    return out


def mid_index(t: Table, ix: Index, flight: Flight) -> Index:
    """An index of the new schema on the flight's physical columns, under a temporary name."""
    cols = [flight.phys_column(t.name, c) for c in ix.columns]
    where = ix.where
    if where:
        where = rename_columns(
            where, {c: flight.phys_column(t.name, c) for c in column_refs(where)}
        )
    return ix.model_copy(update={"name": prefixed(ix.name), "columns": cols, "where": where})


def flight_objects(flight: Flight, new: IR) -> IR:
    """The flight schema with what the compat steps add to it (shadow columns, their
    foreign keys and indexes under temporary names): what the lock classifier needs to know
    about the tables while both versions run."""
    tables = {t.name: t for t in flight.mid.tables}
    for s in flight.shadows:
        t = tables[s.phys]
        col = s.new.model_copy(update={"name": s.shadow})
        tables[s.phys] = t.model_copy(update={"columns": [*t.columns, col]})
    for t in new.tables:
        for fk in t.foreign_keys:
            involved = any(flight.shadow(t.name, c) for c in fk.columns) or any(
                flight.shadow(fk.ref_table, c) for c in fk.ref_columns
            )
            if not involved:
                continue
            owner = tables[flight.phys_table(t.name)]
            temp = ForeignKey(
                name=prefixed(fk.name),
                columns=[flight.phys_column(t.name, c) for c in fk.columns],
                ref_table=flight.phys_table(fk.ref_table),
                ref_columns=[flight.phys_column(fk.ref_table, c) for c in fk.ref_columns],
            )
            tables[owner.name] = owner.model_copy(
                update={"foreign_keys": [*owner.foreign_keys, temp]}
            )
        shadowed = flight.shadowed(t.name)
        if not shadowed:
            continue
        owner = tables[flight.phys_table(t.name)]
        names = {s.new.name for s in shadowed}

        def phys(cols: list[str], table: str = t.name) -> list[str]:
            return [flight.phys_column(table, c) for c in cols]

        temp_ix = [
            mid_index(t, ix, flight)
            for ix in t.indexes
            if names & {*ix.columns, *_expr_cols(ix.where)}
        ] + [
            Index(name=prefixed(u.name), columns=phys(u.columns), unique=True)
            for u in t.uniques
            if names & set(u.columns)
        ]
        if names & set(t.primary_key):
            temp_ix.append(
                Index(name=prefixed(pk_name(t)), columns=phys(t.primary_key), unique=True)
            )
        tables[owner.name] = owner.model_copy(update={"indexes": [*owner.indexes, *temp_ix]})
    return flight.mid.model_copy(update={"tables": list(tables.values())})


def flight_of(old: IR | None, new: IR, version: int) -> Flight | None:
    """The flight of the plan `old → new` (what build_plan works out), for the edges that
    need the flight schema (the old version's pgTAP suite, the rehearsal of --abort)."""
    from wesley.ir import ir_hash
    from wesley.plan.diff import diff

    base = old or IR()
    return flight_for(base, new, diff(base, new), version, ir_hash(new))
