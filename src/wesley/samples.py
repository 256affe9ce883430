"""Sample rows from the IR: deterministic SQL literals that fit each column, and the chain of
parent rows a row's NOT NULL foreign keys need. Used by the pgTAP RLS probes (and by rehearsal
seeding). Pure: the same IR and tags give the same rows.

Limits, on purpose: nullable columns are left NULL (a CHECK passes on NULL), columns with a
default get their default, text looks like `p7@wesley.test` (which satisfies the common
e-mail checks); a CHECK that these values still violate makes the probe's set-up assertion
fail with PostgreSQL's message, which says which check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from wesley.ir import IR, Column, Table
from wesley.refinements import sample_number, sample_text
from wesley.sample_checks import base36, meet_checks
from wesley.sqltext import quote_ident, quote_literal

_NAMESPACE = uuid.UUID("6f1d3a52-9c3e-4d1e-8f5c-1c1b2a3d4e5f")
_EPOCH = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


class Infeasible(Exception):
    """No row can be built (a cycle of NOT NULL foreign keys)."""


def sample_literal(
    table: str, col: Column, ir: IR, n: int, distinct: bool = False, index: int = 0
) -> str:
    """A literal of `col`'s type made from `n`. Numbers, uuids, text and inet differ for
    every n; with `distinct` (a column of a unique key) timestamps, dates, times and json
    do too, and enums and booleans take the `index`-th value (the row's ordinal in its
    table), so the first rows of a table differ as far as the type has values."""
    if col.array:
        return "'{}'"
    if col.enum:
        enum = next(e for e in ir.enums if e.name == col.enum)
        return quote_literal(enum.values[index % len(enum.values) if distinct else 0])
    base = col.type.split("(")[0].strip()
    if base == "uuid":
        return quote_literal(str(uuid.uuid5(_NAMESPACE, f"{table}.{col.name}.{n}")))
    mods = _modifiers(col.type)
    if base == "numeric" and mods:  # numeric(p, s): p - s digits before the point
        digits = mods[0] - (mods[1] if len(mods) > 1 else 0)
        return sample_number(col, n, str(n % 10**digits) if digits > 0 else "0")
    if base in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        start = str(1000 + n % 30000) if base == "smallint" else str(1000 + n)
        return sample_number(col, n, start)
    if base == "boolean":
        return ("true", "false")[index % 2] if distinct else "true"
    if not distinct:
        if base.startswith("timestamp"):
            return "'2001-02-03 04:05:06+00'"
        if base == "date":
            return "'2001-02-03'"
        if base.startswith("time"):
            return "'04:05:06'"
        if base in ("jsonb", "json"):
            return "'{}'"
    else:
        moment = _EPOCH + timedelta(seconds=n)
        if base.startswith("timestamp"):
            return quote_literal(moment.isoformat(sep=" "))
        if base == "date":
            # no wrap inside a salt range (probe rows start at 800,000: a 100,000-day wrap met the
            # seed rows' dates); 2.9M days from 2001 stays below Python's year 9999
            return quote_literal((_EPOCH + timedelta(days=n % 2_900_000)).date().isoformat())
        if base.startswith("time"):
            return quote_literal(moment.time().isoformat())
        if base in ("jsonb", "json"):
            return quote_literal(f'{{"n": {n}}}')
    if base == "inet":
        return f"'10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}'"
    text = sample_text(col, n)
    sized = base in ("varchar", "character varying", "char", "character", "bpchar") and mods
    if sized and len(text) > mods[0]:  # as much of the number as fits: its last digits
        text = sample_text(col, n, mods[0]) if col.refinements else base36(n)[-mods[0] :]
    return quote_literal(text)


def _modifiers(type_sql: str) -> list[int]:
    """`numeric(12,2)` → [12, 2], `varchar(40)` → [40], `text` → []."""
    inside = type_sql.partition("(")[2].partition(")")[0]
    return [int(x) for x in inside.split(",") if x.strip().isdigit()]


def row_keys(table: Table) -> list[list[str]]:
    """The column sets a row is known by: the primary key and every unique key."""
    keys = [list(table.primary_key)] if table.primary_key else []
    keys += [list(u.columns) for u in table.uniques]
    keys += [list(ix.columns) for ix in table.indexes if ix.unique and ix.where is None]
    return keys


@dataclass
class RowPlan:
    """INSERT statements, parents first.

    Values come from a counter that never restarts, so no two planned rows share a number,
    uuid or text. A row whose key (primary or unique) equals a row planned before is that
    row: it is not inserted twice. With `share` (the pgTAP probes: one plan for the whole
    suite), a row needed only to satisfy a foreign key, or a tenant's row of a probed table,
    reuses a row of that table and tenant planned before, and every probe draws the same
    tenant ids: tables sharing a tenant parent (Org -> Member, Project, Task, at any depth)
    insert each parent once, and small-domain uniques (an enum, a boolean) on a parent are
    not exhausted. A foreign key whose columns are part of a unique key of the row always
    gets a parent of its own (reusing one would repeat that key)."""

    ir: IR
    counter: int = 0
    inserts: list[str] = field(default_factory=list)
    salt: int = 0  # probe rows and seed rows live in different number ranges: no collisions
    share: bool = False
    planned: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    tenants: dict[str, tuple[str, str]] = field(default_factory=dict)

    def next_n(self) -> int:
        self.counter += 1
        return self.salt + self.counter

    def good_values(self, table: Table) -> dict[str, str]:
        """One row of `table` alone (its foreign keys aside): every column but the generated
        ones and those left to their default, meeting every refinement."""
        n = self.next_n()
        keyed = {c for key in row_keys(table) for c in key}
        values = {
            c.name: sample_literal(table.name, c, self.ir, n, c.name in keyed)
            for c in table.columns
            if not c.generated and (c.default is None or c.refinements)
        }
        meet_checks(table, values, set(values), n, keyed, 0)
        return values

    def _existing(self, table: Table, values: dict[str, str]) -> dict[str, str] | None:
        """A row planned before that equals `values` on a whole key of `table`."""
        for key in row_keys(table):
            if key and all(c in values for c in key):
                for row in self.planned.get(table.name, []):
                    if all(row.get(c) == values[c] for c in key):
                        return row
        return None

    def _of_tenant(self, table: Table, tenant: str | None) -> dict[str, str] | None:
        """With `share`: a row of `table` planned before, of `tenant` when it has one."""
        if not self.share:
            return None
        for row in self.planned.get(table.name, []):
            if not table.tenant_by or tenant is None or row.get(table.tenant_by) == tenant:
                return row
        return None

    def row(
        self,
        table: Table,
        fixed: dict[str, str],
        tenant: str | None = None,
        visiting: frozenset[str] = frozenset(),
        fresh: bool = False,
    ) -> dict[str, str]:
        """Plan a row of `table` (and its parents); returns the row's column → literal. With
        `fresh` the row itself is always a new INSERT (its parents may still be reused)."""
        if table.name in visiting:
            raise Infeasible(f"NOT NULL foreign keys form a cycle through {table.name}")
        values = dict(fixed)
        if tenant is not None and table.tenant_by and table.tenant_by not in values:
            values[table.tenant_by] = tenant
        if not fresh:
            same = self._existing(table, values)
            if same is not None:
                return same
            if not fixed and self.share:
                same = self._of_tenant(table, tenant)
                if same is not None:
                    return same
        n = self.next_n()
        keyed = {c for key in row_keys(table) for c in key}
        selfrefs = []
        for fk in table.foreign_keys:
            cols = [table.column(c) for c in fk.columns]
            if all(c is not None and c.nullable for c in cols) and not any(
                c in values for c in fk.columns
            ):
                continue  # an optional reference stays NULL
            parent = self.ir.table(fk.ref_table)
            assert parent is not None
            if parent.name == table.name:
                selfrefs.append(fk)  # a NOT NULL self-reference: the row refers to itself
                continue
            parent_fixed = {}
            for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
                if mine in values:
                    parent_fixed[theirs] = values[mine]
            own = any(c in keyed for c in fk.columns)  # a shared parent would repeat a key
            seen = visiting | {table.name}
            parent_row = self.row(parent, parent_fixed, tenant, seen, own and not parent_fixed)
            for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
                values[mine] = parent_row[theirs]
        given = set(values)
        k = len(self.planned.get(table.name, []))
        for col in table.columns:
            needs_value = col.name in table.primary_key and col.default is None
            if col.generated:
                continue  # PostgreSQL computes it
            if col.name not in values and (needs_value or (not col.nullable and not col.default)):
                values[col.name] = sample_literal(table.name, col, self.ir, n, col.name in keyed, k)
        referencing = {c for fk in table.foreign_keys for c in fk.columns}
        for col in table.columns:  # every key's columns get a value of this row's own: a
            if col.generated:  # default would repeat in a composite unique (tenant, x);
                continue  # an optional reference left NULL repeats no key
            if col.name not in values and (
                col.unique
                or col.name in table.primary_key
                or (col.name in keyed and col.name not in referencing)
            ):
                values[col.name] = sample_literal(table.name, col, self.ir, n, True, k)
        meet_checks(table, values, set(values) - given, n, keyed, k)
        for fk in selfrefs:
            for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
                if mine not in given:
                    values[mine] = values.get(theirs, "NULL")
        ordered = [c.name for c in table.columns if c.name in values]
        self.inserts.append(
            f"INSERT INTO {quote_ident(table.name)} ({', '.join(quote_ident(c) for c in ordered)})"
            f" VALUES ({', '.join(values[c] for c in ordered)})"
        )
        self.planned.setdefault(table.name, []).append(values)
        return values


def tenant_values(table: Table, plan: RowPlan) -> tuple[str, str]:
    """Two tenant ids of the tenant column's type; with `share`, the same two for every
    table whose tenant column has that type (so they share their tenant parents' rows)."""
    assert table.tenant_by is not None
    col = table.column(table.tenant_by)
    assert col is not None
    kind = f"{col.type}:{col.enum}"
    if plan.share and kind in plan.tenants:
        return plan.tenants[kind]
    a, b = (sample_literal("tenant", col, plan.ir, plan.next_n(), True, i) for i in (0, 1))
    if a == b:
        raise Infeasible(f"the tenant column {col.name} has a single value ({a})")
    plan.tenants[kind] = (a, b)
    return a, b
