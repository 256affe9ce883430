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

from wesley.ir import IR, Column, Table
from wesley.refinements import sample_number, sample_text
from wesley.sqltext import quote_ident, quote_literal

_NAMESPACE = uuid.UUID("6f1d3a52-9c3e-4d1e-8f5c-1c1b2a3d4e5f")


class Infeasible(Exception):
    """No row can be built (a cycle of NOT NULL foreign keys)."""


def sample_literal(table: str, col: Column, ir: IR, n: int) -> str:
    if col.array:
        return "'{}'"
    if col.enum:
        enum = next(e for e in ir.enums if e.name == col.enum)
        return quote_literal(enum.values[0])
    base = col.type.split("(")[0].strip()
    if base == "uuid":
        return quote_literal(str(uuid.uuid5(_NAMESPACE, f"{table}.{col.name}.{n}")))
    if base in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        return sample_number(col, n)
    if base == "boolean":
        return "true"
    if base.startswith("timestamp"):
        return "'2001-02-03 04:05:06+00'"
    if base == "date":
        return "'2001-02-03'"
    if base.startswith("time"):
        return "'04:05:06'"
    if base in ("jsonb", "json"):
        return "'{}'"
    if base == "inet":
        return f"'10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}'"
    return quote_literal(sample_text(col, n))


@dataclass
class RowPlan:
    """INSERT statements, parents first."""

    ir: IR
    counter: int = 0
    inserts: list[str] = field(default_factory=list)
    salt: int = 0  # probe rows and seed rows live in different number ranges: no collisions

    def next_n(self) -> int:
        self.counter += 1
        return self.salt + self.counter

    def good_values(self, table: Table) -> dict[str, str]:
        """One row of `table` alone (its foreign keys aside): every column but the generated
        ones and those left to their default, meeting every refinement."""
        n = self.next_n()
        return {
            c.name: sample_literal(table.name, c, self.ir, n)
            for c in table.columns
            if not c.generated and (c.default is None or c.refinements)
        }

    def row(
        self,
        table: Table,
        fixed: dict[str, str],
        tenant: str | None = None,
        visiting: frozenset[str] = frozenset(),
    ) -> dict[str, str]:
        """Plan a row of `table` (and its parents); returns the row's column → literal."""
        if table.name in visiting:
            raise Infeasible(f"NOT NULL foreign keys form a cycle through {table.name}")
        n = self.next_n()
        values = dict(fixed)
        if tenant is not None and table.tenant_by and table.tenant_by not in values:
            values[table.tenant_by] = tenant
        for fk in table.foreign_keys:
            cols = [table.column(c) for c in fk.columns]
            if all(c is not None and c.nullable for c in cols) and not any(
                c in values for c in fk.columns
            ):
                continue  # an optional reference stays NULL
            parent = self.ir.table(fk.ref_table)
            assert parent is not None
            if parent.name == table.name:
                continue  # self-reference: the row refers to nothing yet
            parent_fixed = {}
            for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
                if mine in values:
                    parent_fixed[theirs] = values[mine]
            parent_row = self.row(parent, parent_fixed, tenant, visiting | {table.name})
            for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
                values[mine] = parent_row[theirs]
        for col in table.columns:
            needs_value = col.name in table.primary_key and col.default is None
            if col.generated:
                continue  # PostgreSQL computes it
            if col.name not in values and (needs_value or (not col.nullable and not col.default)):
                values[col.name] = sample_literal(table.name, col, self.ir, n)
        for col in table.columns:  # the keys a child may refer to need a known value
            if col.generated:
                continue
            if col.name not in values and (col.unique or col.name in table.primary_key):
                values[col.name] = sample_literal(table.name, col, self.ir, n)
        ordered = [c.name for c in table.columns if c.name in values]
        self.inserts.append(
            f"INSERT INTO {quote_ident(table.name)} ({', '.join(quote_ident(c) for c in ordered)})"
            f" VALUES ({', '.join(values[c] for c in ordered)})"
        )
        return values


def tenant_values(table: Table, ir: IR) -> tuple[str, str]:
    """Two distinct tenant ids of the tenant column's type."""
    assert table.tenant_by is not None
    col = table.column(table.tenant_by)
    assert col is not None
    return (
        sample_literal(table.name, col, ir, 900001),
        sample_literal(table.name, col, ir, 900002),
    )
