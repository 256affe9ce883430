"""Old IR → new IR as typed changes. Matching is explicit, never guessed: a table or column is
the same one when `@wes_renamedFrom` says so, when its explicit `@wes_uid` is kept, or when
its SQL name is unchanged. Anything else is a drop plus an add, and a drop is destructive.

Only what the database holds is compared (names, types, nullability, defaults, keys,
indexes, checks, policies, uid comments): GraphQL names, weights and classifications do not
make a migration.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from wesley.ir import IR, PRIVILEGES, Column, Enum, Grant, Policy, Table
from wesley.naming import constraint_name, snake_case
from wesley.sdl.expressions import comparable_expression, normalize_type_name, rename_columns
from wesley.sdl.literals import canonical_default
from wesley.sdl.typed_compare import table_datetime_columns, typed_comparable


@dataclass(frozen=True)
class Change:
    kind: str
    table: str  # the table's name in the new schema (the old name for drops)
    column: str | None = None
    old: Any = None
    new: Any = None
    detail: str = ""


def _expr(sql: str | None) -> str | None:
    return comparable_expression(sql) if sql else None


def _type(col: Column) -> tuple[str, bool, str | None]:
    if col.enum:
        return (col.enum, col.array, col.enum)
    return (normalize_type_name(col.type, None, "type"), col.array, None)


def _computed(col: Column) -> tuple[object, ...] | None:
    c = col.computed
    return None if c is None else (c.kind, _expr(c.expr), c.table, c.column)


# a pglast parse per default otherwise: a schema repeats a handful of (default, type) pairs
_canonical_default = lru_cache(maxsize=8192)(canonical_default)


def _default(col: Column) -> str | None:
    # by value, typed by the column (`'3'` = `3` on an integer): wesley.sdl.literals.default_key
    if col.default is None:
        return None
    return _canonical_default(col.default.sql, "text" if col.enum else col.type, col.array)


T = TypeVar("T", Table, Column)


def _match(
    olds: list[T],
    news: list[T],
    old_names: Callable[[T], tuple[str, ...]],
    default_uid: Callable[[T], str],
) -> list[tuple[T | None, T | None]]:
    """Pair old and new items: `@wes_renamedFrom` first, then an explicit (non-default) uid,
    then the same SQL name; each time the first unpaired old item that fits, in the old order.
    What stays unpaired is an add or a drop."""
    # old positions by name (and by uid once a new item keeps an explicit one), in order: a
    # scan of the unpaired items per new item made matching 1,000 tables quadratic
    by_name: dict[str, list[int]] = {}
    for i, o in enumerate(olds):
        by_name.setdefault(o.name, []).append(i)
    by_uid: dict[str, list[int]] | None = None
    taken = [False] * len(olds)
    pairs: list[tuple[T | None, T | None]] = []
    for item in news:
        found = None
        if item.renamed_from:
            # the GraphQL name as written, or the SQL name it maps to (an introspected old
            # schema knows only SQL names)
            names = {item.renamed_from, snake_case(item.renamed_from)}
            found = next(
                (i for i, o in enumerate(olds) if not taken[i] and names & set(old_names(o))),
                None,
            )
        if found is None and item.uid != default_uid(item):
            if by_uid is None:
                by_uid = {}
                for i, o in enumerate(olds):
                    by_uid.setdefault(o.uid, []).append(i)
            found = next((i for i in by_uid.get(item.uid, ()) if not taken[i]), None)
        if found is None:
            for i in by_name.get(item.name, ()):
                if not taken[i]:
                    found = i
                    break
        if found is not None:
            taken[found] = True
        pairs.append((None if found is None else olds[found], item))
    pairs.extend((o, None) for i, o in enumerate(olds) if not taken[i])
    return pairs


def match_tables(old: IR, new: IR) -> list[tuple[Table | None, Table | None]]:
    return _match(
        old.tables, new.tables, lambda o: (o.name, o.type_name), lambda t: f"tbl:{t.name}"
    )


def match_columns(old: Table, new: Table) -> list[tuple[Column | None, Column | None]]:
    return _match(
        old.columns, new.columns, lambda o: (o.name, o.field), lambda c: f"col:{new.name}.{c.name}"
    )


def _enum_changes(old: IR, new: IR) -> list[Change]:
    changes: list[Change] = []
    olds = {e.name: e for e in old.enums}
    for e in new.enums:
        before: Enum | None = olds.pop(e.name, None)
        if before is None:
            changes.append(Change("create_enum", e.name, new=e))
            continue
        missing = [v for v in before.values if v not in e.values]
        if missing:
            changes.append(
                Change("drop_enum_value", e.name, old=before, new=e, detail=", ".join(missing))
            )
        for v in e.values:
            if v not in before.values:
                changes.append(Change("add_enum_value", e.name, old=before, new=e, detail=v))
    changes.extend(Change("drop_enum", name, old=e) for name, e in olds.items())
    return changes


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {i.name: i for i in items}


def _policy_key(p: Policy) -> tuple[object, ...]:
    return (p.command, p.permissive, tuple(sorted(p.roles)), _expr(p.using), _expr(p.check))


ColumnPairs = list[tuple[Column | None, Column | None]]


def _table_changes(
    o: Table,
    t: Table,
    renamed: dict[str, str],
    columns: dict[str, dict[str, str]],
    cols: ColumnPairs,
) -> list[Change]:
    """`cols`: match_columns(o, t) (the renames and constraint names followed below leave the
    columns as they are)."""
    out: list[Change] = []
    # PostgreSQL's constraints follow a renamed table or column by oid and attnum: compare the
    # old ones under the new names
    o = _follow_renames(o, renamed, columns)
    name = t.name
    if o.name != t.name:
        out.append(Change("rename_table", name, old=o, new=t))
    if o.uid != t.uid:
        out.append(Change("set_table_comment", name, old=o, new=t))
    for oc, nc in cols:
        if oc is None and nc is not None:
            out.append(Change("add_column", name, nc.name, new=nc))
            continue
        if nc is None and oc is not None:
            out.append(Change("drop_column", name, oc.name, old=oc))
            continue
        assert oc is not None and nc is not None
        if oc.name != nc.name:
            out.append(Change("rename_column", name, nc.name, old=oc, new=nc))
        if _type(oc) != _type(nc):
            out.append(Change("alter_column_type", name, nc.name, old=oc, new=nc))
        if _computed(oc) != _computed(nc):
            out.append(Change("set_computed", name, nc.name, old=oc, new=nc))
        if _expr(oc.generated) != _expr(nc.generated):
            out.append(Change("alter_generated", name, nc.name, old=oc, new=nc))
        if _default(oc) != _default(nc):
            kind = "drop_default" if nc.default is None else "set_default"
            out.append(Change(kind, name, nc.name, old=oc, new=nc))
        if oc.nullable and not nc.nullable:
            out.append(Change("set_not_null", name, nc.name, old=oc, new=nc))
        elif not oc.nullable and nc.nullable:
            out.append(Change("drop_not_null", name, nc.name, old=oc, new=nc))
        if oc.uid != nc.uid:
            out.append(Change("set_column_comment", name, nc.name, old=oc, new=nc))
    cmap = columns.get(t.name, {})
    if [cmap.get(c, c) for c in o.primary_key] != t.primary_key:
        out.append(Change("set_primary_key", name, old=o, new=t))
    mapped = _with_columns(o, cmap)
    out += _renamed_objects(mapped, t, cmap)
    o = _with_renamed_objects(mapped, t, cmap)
    # a literal beside a date/time column compares as a value of its type (sdl.typed_compare)
    times = table_datetime_columns(o, t)
    out += _named_changes(o.uniques, t.uniques, name, "unique", lambda u: tuple(u.columns))
    out += _named_changes(
        o.indexes,
        t.indexes,
        name,
        "index",
        lambda i: (tuple(i.columns), i.unique, i.using, typed_comparable(i.where, times)),
    )
    out += _named_changes(
        o.foreign_keys,
        t.foreign_keys,
        name,
        "fk",
        lambda f: (tuple(f.columns), f.ref_table, tuple(f.ref_columns), f.on_delete, f.on_update),
    )
    out += _named_changes(
        o.checks, t.checks, name, "check", lambda c: typed_comparable(c.expr, times)
    )
    old_rls = bool(o.rls and o.rls.enabled)
    new_rls = bool(t.rls and t.rls.enabled)
    if new_rls and (not old_rls or (o.rls and t.rls and o.rls.force != t.rls.force)):
        out.append(Change("enable_rls", name, old=o, new=t))
    out += _named_changes(o.policies, t.policies, name, "policy", _policy_key)
    if old_rls and not new_rls:
        out.append(Change("disable_rls", name, old=o, new=t))
    out += grant_changes(o, t, cols)
    return out


def _held(grants: list[Grant]) -> dict[str, set[str]]:
    return {g.role: set(g.privileges) for g in grants}


def _grant(role: str, privileges: set[str]) -> Grant:
    return Grant(role=role, privileges=[p for p in PRIVILEGES if p in privileges])


def _grant_diff(old: list[Grant], new: list[Grant], table: str, column: str | None) -> list[Change]:
    before, after = _held(old), _held(new)
    out: list[Change] = []
    for role in sorted(set(before) | set(after)):
        had, has = before.get(role, set()), after.get(role, set())
        if has - had:
            out.append(Change("grant", table, column, new=_grant(role, has - had)))
        if had - has:
            out.append(Change("revoke", table, column, old=_grant(role, had - has)))
    return out


def grant_changes(o: Table | None, t: Table, cols: ColumnPairs | None = None) -> list[Change]:
    """GRANTs and REVOKEs from `o`'s privileges to `t`'s (all of `t`'s for a new table), per
    role, table-level and per column. A table-level REVOKE also takes the privilege off every
    column (PostgreSQL's rule), so the column grants of the new schema are granted again after
    it (change detail `regrant`: the operation puts them after the revokes). `cols`:
    match_columns(o, t) when the caller has it."""
    out = _grant_diff(o.grants if o else [], t.grants, t.name, None)
    if not o:
        pairs: ColumnPairs = [(None, c) for c in t.columns]
    else:
        pairs = match_columns(o, t) if cols is None else cols
    for oc, nc in pairs:
        # most columns have no grants on either side: nothing to compare
        if nc is not None and (nc.grants or (oc is not None and oc.grants)):
            out += _grant_diff(oc.grants if oc else [], nc.grants, t.name, nc.name)
    revoked = {
        (c.old.role, p)
        for c in out
        if c.kind == "revoke" and c.column is None
        for p in c.old.privileges
    }
    for col in t.columns:
        for g in col.grants:
            again = {str(p) for p in g.privileges if (g.role, p) in revoked}
            if again:
                out.append(
                    Change("grant", t.name, col.name, new=_grant(g.role, again), detail="regrant")
                )
    return out


def _follow_renames(o: Table, renamed: dict[str, str], columns: dict[str, dict[str, str]]) -> Table:
    """The old table's foreign keys as PostgreSQL sees them once the tables and columns they
    reference are renamed."""
    fks = []
    for fk in o.foreign_keys:
        ref = renamed.get(fk.ref_table, fk.ref_table)
        cmap = columns.get(ref, {})
        ref_columns = [cmap.get(c, c) for c in fk.ref_columns]
        if ref != fk.ref_table or ref_columns != fk.ref_columns:
            fk = fk.model_copy(update={"ref_table": ref, "ref_columns": ref_columns})
        fks.append(fk)
    # the same table when nothing moved (a copy per table is most of a large diff's time)
    if all(a is b for a, b in zip(fks, o.foreign_keys, strict=True)):
        return o
    return o.model_copy(update={"foreign_keys": fks})


def _with_columns(o: Table, cmap: dict[str, str]) -> Table:
    """The old table's constraints, indexes and policies under renamed column names (what
    PostgreSQL shows after RENAME COLUMN)."""
    if not cmap:
        return o

    def cols(items: list[str]) -> list[str]:
        return [cmap.get(c, c) for c in items]

    def expr(sql: str | None) -> str | None:
        return rename_columns(sql, cmap) if sql else None

    return o.model_copy(
        update={
            "uniques": [u.model_copy(update={"columns": cols(u.columns)}) for u in o.uniques],
            "indexes": [
                i.model_copy(update={"columns": cols(i.columns), "where": expr(i.where)})
                for i in o.indexes
            ],
            "foreign_keys": [
                f.model_copy(update={"columns": cols(f.columns)}) for f in o.foreign_keys
            ],
            "checks": [
                c.model_copy(
                    update={
                        "expr": expr(c.expr),
                        "column": cmap.get(c.column, c.column) if c.column else None,
                    }
                )
                for c in o.checks
            ],
            "policies": [
                p.model_copy(update={"using": expr(p.using), "check": expr(p.check)})
                for p in o.policies
            ],
        }
    )


def _named_objects(t: Table) -> list[Any]:
    return [*t.uniques, *t.indexes, *t.foreign_keys, *t.checks, *t.policies]


_DERIVED_SUFFIXES = (
    "key",
    "idx",
    "fkey",
    "check",
    *(f"{kind}_check" for kind in ("email", "url", "ip", "min", "max", "length", "regex")),
)


def rename_map(o: Table, t: Table, cmap: dict[str, str]) -> dict[str, str]:
    """Derived names (`org_name_key`) that follow a renamed table or column: old name → new
    name, for old objects (already under the new column names) whose name is the one Wesley
    derives from the old table and columns, and whose new-name counterpart is in `t`."""
    if o.name == t.name and not cmap:
        return {}  # nothing renamed: no derived name follows
    back = {new: old for old, new in cmap.items()}
    new_names = {str(x.name) for x in _named_objects(t)}
    out: dict[str, str] = {}
    for x in _named_objects(o):
        own = getattr(x, "column", None)
        cols = list(getattr(x, "columns", None) or ([own] if own else []))
        candidate = None
        if cols and (o.name != t.name or any(c in back for c in cols)):
            for suffix in _DERIVED_SUFFIXES:
                if x.name == constraint_name(o.name, [back.get(c, c) for c in cols], suffix):
                    candidate = constraint_name(t.name, cols, suffix)
                    break
        if candidate is None and o.name != t.name and x.name.startswith(o.name + "_"):
            candidate = t.name + "_" + x.name[len(o.name) + 1 :]
        if candidate is not None and candidate != x.name and candidate in new_names:
            out[x.name] = candidate
    return out


def _renamed_objects(o: Table, t: Table, cmap: dict[str, str]) -> list[Change]:
    mapping = rename_map(o, t, cmap)
    kinds: list[tuple[str, list[Any]]] = [
        ("rename_constraint", [*o.uniques, *o.foreign_keys, *o.checks]),
        ("rename_index", list(o.indexes)),
        ("rename_policy", list(o.policies)),
    ]
    out = [
        Change(kind, t.name, old=x, new=x.model_copy(update={"name": mapping[x.name]}))
        for kind, items in kinds
        for x in items
        if x.name in mapping
    ]
    from wesley.targets.sqlnames import pk_name

    if o.primary_key and pk_name(o) != pk_name(t):
        out.append(
            Change("rename_constraint", t.name, old=_Named(pk_name(o)), new=_Named(pk_name(t)))
        )
    return out


def _with_renamed_objects(o: Table, t: Table, cmap: dict[str, str]) -> Table:
    mapping = rename_map(o, t, cmap)
    if not mapping:
        return o

    def rn(items: list[Any]) -> list[Any]:
        return [x.model_copy(update={"name": mapping.get(x.name, x.name)}) for x in items]

    return o.model_copy(
        update={
            "uniques": rn(o.uniques),
            "indexes": rn(o.indexes),
            "foreign_keys": rn(o.foreign_keys),
            "checks": rn(o.checks),
            "policies": rn(o.policies),
        }
    )


@dataclass(frozen=True)
class _Named:
    name: str


def _named_changes(old: list[Any], new: list[Any], table: str, what: str, key: Any) -> list[Change]:
    """Constraints, indexes and policies are matched by name; a changed definition is a
    drop of the old one and an add of the new one."""
    out: list[Change] = []
    olds, news = _by_name(old), _by_name(new)
    for n, item in news.items():
        before = olds.get(n)
        if before is not None and key(before) == key(item):
            continue
        if (
            what == "policy"
            and before is not None
            and (before.command, before.permissive) == (item.command, item.permissive)
        ):
            out.append(Change("alter_policy", table, old=before, new=item))
            continue
        if before is not None:
            out.append(Change(f"drop_{what}", table, old=before, detail="redefined"))
        out.append(Change(f"add_{what}", table, new=item))
    for n, item in olds.items():
        if n not in news:
            out.append(Change(f"drop_{what}", table, old=item))
    return out


def column_renames(
    pairs: list[tuple[Table | None, Table | None]], cols: dict[str, ColumnPairs] | None = None
) -> dict[str, dict[str, str]]:
    """Per new table name: old column name → new column name, for renamed columns. `cols`:
    per new table name, match_columns of its pair, when the caller has them."""
    out: dict[str, dict[str, str]] = {}
    for o, t in pairs:
        if o is None or t is None:
            continue
        matched = cols[t.name] if cols is not None else match_columns(o, t)
        cmap = {
            oc.name: nc.name
            for oc, nc in matched
            if oc is not None and nc is not None and oc.name != nc.name
        }
        if cmap:
            out[t.name] = cmap
    return out


def function_changes(old: IR, new: IR) -> list[Change]:
    """`@wes_rpc` functions, matched by name: a new body is CREATE OR REPLACE; new arguments
    or a new result type need the old function dropped first."""
    out: list[Change] = []
    olds = {f.name: f for f in old.functions}
    for f in new.functions:
        before = olds.pop(f.name, None)
        if before is None:
            out.append(Change("create_function", f.table, new=f))
            continue
        if (before.identity, before.returns) != (f.identity, f.returns):
            out.append(Change("drop_function", f.table, old=before, detail="redefined"))
            out.append(Change("create_function", f.table, new=f))
            continue
        shape = ("arguments", "body", "language", "volatility", "security_definer", "uid")
        if any(getattr(before, k) != getattr(f, k) for k in shape):
            out.append(Change("replace_function", f.table, old=before, new=f))
        if before.grants != f.grants:
            out.append(Change("set_function_grants", f.table, old=before, new=f))
    out.extend(Change("drop_function", f.table, old=f) for f in olds.values())
    return out


# `plan --from-db` takes one diff twice (the questions about the data, then the plan): the
# last one taken to each new IR is kept while that IR lives (IRs are frozen; by id, as for
# ir_hash, with the old IR it came from, compared by identity)
_DIFFS: dict[int, tuple[IR, tuple[Change, ...]]] = {}


def diff(old: IR, new: IR) -> list[Change]:
    kept = _DIFFS.get(id(new))
    if kept is not None and kept[0] is old:
        return list(kept[1])
    changes = _diff(old, new)
    if id(new) not in _DIFFS:
        weakref.finalize(new, _DIFFS.pop, id(new), None)
    _DIFFS[id(new)] = (old, tuple(changes))
    return changes


def _diff(old: IR, new: IR) -> list[Change]:
    changes = _enum_changes(old, new) + function_changes(old, new)
    pairs = match_tables(old, new)
    renamed = {o.name: t.name for o, t in pairs if o is not None and t is not None}
    # the columns of every table pair matched once (four passes below read them)
    cols = {t.name: match_columns(o, t) for o, t in pairs if o is not None and t is not None}
    columns = column_renames(pairs, cols)
    for o, t in pairs:
        if o is None and t is not None:
            changes.append(Change("create_table", t.name, new=t))
            changes.extend(grant_changes(None, t))
        elif t is None and o is not None:
            changes.append(Change("drop_table", o.name, old=o))
        elif o is not None and t is not None:
            changes.extend(_table_changes(o, t, renamed, columns, cols[t.name]))
    # computed columns of new tables and new columns: their triggers once every table exists
    # (a count's trigger lives on the counted table)
    for o, t in pairs:
        if t is None:
            continue
        added = t.columns if o is None else [nc for oc, nc in cols[t.name] if oc is None]
        changes += [
            Change("set_computed", t.name, c.name, old=None, new=c)
            for c in added
            if c is not None and c.computed is not None
        ]
    return changes
