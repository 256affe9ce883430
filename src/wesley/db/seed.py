"""Rows for a rehearsal's old schema (`rehearse --seed-rows N`), made by PostgreSQL itself:
one `INSERT ... SELECT ... FROM generate_series(lo, hi) g` per chunk and table, never a
statement per row (100,000 rows: seconds, not minutes).

Every table gets N rows, parents first. Row g's keys and unique columns are functions of g
(`md5('table.col.' || g)::uuid`, `g`, `'p' || g || '@wesley.test'`), so row g of a child
refers to row g of its parent by computing the same value; a NOT NULL self-reference points
at the row itself. Nullable columns without a key role stay NULL, columns with a default get
it. Chunks grow or shrink so each takes about a second, and `report` hears after each one.
Tables whose NOT NULL foreign keys form a cycle cannot be seeded this way: they are left out
and named.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from wesley.db.session import run_one
from wesley.ir import IR, Column, Table
from wesley.refinements import length_bounds, sample_text
from wesley.sqltext import column_type, quote_ident, quote_literal

# (table, rows done, rows wanted) after each chunk
SeedReport = Callable[[str, int, int], None]
FIRST_CHUNK = 5_000
CHUNK_TARGET_S = 1.0


@dataclass
class Seeded:
    """What seeding did: rows counted in each table afterwards (the true numbers)."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # table → why
    ms: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        per = ", ".join(f"{t} {n:,}" for t, n in self.rows.items())
        text = f"seeded {self.total:,} rows into the old schema ({per}) in {self.ms} ms"
        for table, why in self.skipped.items():
            text += f"; {table} not seeded: {why}"
        return text


def _value(table: str, col: Column, ir: IR, g: str) -> str:
    """A value of `col` for row `g` (an SQL integer expression), distinct for each g."""
    if col.array:
        return "'{}'"
    if col.enum:
        enum = next(e for e in ir.enums if e.name == col.enum)
        values = ", ".join(quote_literal(v) for v in enum.values)
        return f"(ARRAY[{values}])[1 + mod({g}, {len(enum.values)})]"
    base = col.type.split("(")[0].strip()
    if base == "uuid":
        return f"md5({quote_literal(f'{table}.{col.name}.')} || ({g}))::uuid"
    if base in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        return _bounded(col, f"({g})")
    if base == "boolean":
        return f"(mod({g}, 2) = 0)"
    if base.startswith("timestamp"):
        return f"(timestamptz '2001-02-03 04:05:06+00' + ({g}) * interval '1 second')"
    if base == "date":
        return f"(date '2001-02-03' + ({g})::integer)"
    if base.startswith("time"):
        return f"(time '04:05:06' + ({g}) * interval '1 second')"
    if base in ("jsonb", "json"):
        return f"jsonb_build_object('n', {g})"
    if base == "inet":
        return f"(inet '10.0.0.0' + ({g}))"
    return _refined_text(col, g)


def _bounded(col: Column, expr: str) -> str:
    """`expr` moved inside the column's @wes_min/@wes_max."""
    for r in col.refinements:
        if r.kind == "min" and r.value is not None:
            expr = f"GREATEST({expr}, {r.value})"
        if r.kind == "max" and r.value is not None:
            expr = f"LEAST({expr}, {r.value})"
    return expr


def _refined_text(col: Column, g: str) -> str:
    """Distinct text per row meeting the column's refinements (a pattern: one example)."""
    kinds = {r.kind for r in col.refinements}
    if "regex" in kinds:
        return quote_literal(sample_text(col, 0))
    if "url" in kinds:
        expr = f"('https://wesley.test/p' || ({g}))"
    elif "ip" in kinds:
        expr = f"host(inet '10.0.0.0' + ({g}))"
    else:
        expr = f"('p' || ({g}) || '@wesley.test')"
    lo, hi = length_bounds(col)
    if hi is not None:
        expr = f"right({expr}, {hi})"
    if lo is not None:
        expr = f"rpad({expr}, greatest(char_length({expr}), {lo}), 'x')"
    return expr


def _order(ir: IR) -> tuple[list[Table], dict[str, str]]:
    """Tables parents first; tables on a cycle of NOT NULL foreign keys left out (why)."""
    needs: dict[str, set[str]] = {}
    for t in ir.tables:
        needs[t.name] = set()
        for fk in t.foreign_keys:
            cols = [t.column(c) for c in fk.columns]
            if fk.ref_table != t.name and any(c is not None and not c.nullable for c in cols):
                needs[t.name].add(fk.ref_table)
    done: list[Table] = []
    placed: set[str] = set()
    while True:
        ready = [t for t in ir.tables if t.name not in placed and needs[t.name] <= placed]
        if not ready:
            break
        done.extend(ready)
        placed.update(t.name for t in ready)
    skipped = {
        t.name: "its NOT NULL foreign keys form a cycle" for t in ir.tables if t.name not in placed
    }
    return done, skipped


def _required_parents(table: Table) -> list[str]:
    out = []
    for fk in table.foreign_keys:
        own = [table.column(c) for c in fk.columns]
        if fk.ref_table != table.name and any(c is not None and not c.nullable for c in own):
            out.append(fk.ref_table)
    return out


def insert_sql(table: Table, ir: IR, seeded: set[str]) -> str:
    """The chunk statement for `table`, with parameters lo and hi (row numbers)."""
    g = "g"
    values: dict[str, str] = {}
    for fk in table.foreign_keys:
        parent = ir.table(fk.ref_table)
        own = [table.column(c) for c in fk.columns]
        required = any(c is not None and not c.nullable for c in own)
        if parent is None or (parent.name not in seeded and parent.name != table.name):
            continue  # a nullable reference to a table that is not seeded stays NULL
        if parent.name == table.name and not required:
            continue  # an optional self-reference stays NULL
        for mine, theirs in zip(fk.columns, fk.ref_columns, strict=True):
            ref = parent.column(theirs)
            if ref is not None:
                values[mine] = _value(parent.name, ref, ir, g)
    keys = set(table.primary_key) | {c.name for c in table.columns if c.unique}
    for u in table.uniques:
        keys.update(u.columns)
    for col in table.columns:
        if col.name in values or col.generated:
            continue
        if col.name in keys or (not col.nullable and col.default is None):
            values[col.name] = _value(table.name, col, ir, g)
    cols = [c for c in table.columns if c.name in values]
    select = ", ".join(f"CAST({values[c.name]} AS {column_type(c)})" for c in cols)
    body = (
        f"INSERT INTO {quote_ident(table.name)} ({', '.join(quote_ident(c.name) for c in cols)})"
        f" SELECT {select} FROM generate_series(LO::bigint, HI::bigint) AS g"
    )
    # names may hold %: only the two parameters are placeholders
    head, _, tail = body.rpartition("generate_series(LO::bigint, HI::bigint)")
    return (
        head.replace("%", "%%")
        + "generate_series(%(lo)s::bigint, %(hi)s::bigint)"
        + tail.replace("%", "%%")
    )


def seed_rows(
    conn: psycopg.Connection[Any], ir: IR, rows: int, report: SeedReport | None = None
) -> Seeded:
    """`rows` rows in every table of `ir` (which the database holds, empty); the true counts."""
    started = time.monotonic()
    result = Seeded()
    order, result.skipped = _order(ir)
    seeded: set[str] = set()
    # all or nothing (a run killed while seeding leaves no half-seeded table behind); each
    # chunk in a savepoint, so one that does not fit undoes only itself
    with conn.transaction():
        _fill(conn, ir, rows, order, seeded, result, report)
        for name in sorted(seeded):  # statistics as a production table has them: the
            run_one(conn, f"ANALYZE {quote_ident(name)}")  # backfill's estimate reads them
    for table in order:
        row = run_one(conn, f"SELECT count(*) FROM {quote_ident(table.name)}").fetchone()
        result.rows[table.name] = int(row[0]) if row else 0
    result.ms = int((time.monotonic() - started) * 1000)
    return result


def _fill(
    conn: psycopg.Connection[Any],
    ir: IR,
    rows: int,
    order: list[Table],
    seeded: set[str],
    result: Seeded,
    report: SeedReport | None,
) -> None:
    for table in order:
        missing = [p for p in _required_parents(table) if p in result.skipped]
        if missing:
            result.skipped[table.name] = f"it needs rows of {', '.join(missing)}"
            continue
        sql = insert_sql(table, ir, seeded | {table.name})
        done, chunk = 0, FIRST_CHUNK
        while done < rows:
            hi = min(rows, done + chunk)
            t0 = time.monotonic()
            try:
                with conn.transaction():
                    run_one(conn, sql, {"lo": done + 1, "hi": hi})
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
                # a CHECK (or a type) the generated values do not fit: the rehearsal goes on
                # with this table empty, and says so
                why = exc.diag.message_primary or str(exc)
                result.skipped[table.name] = f"the generated rows do not fit: {why}"
                break
            took = time.monotonic() - t0
            done = hi
            if report is not None:
                report(table.name, done, rows)
            # about a second per chunk: progress stays live, round trips stay few
            chunk = max(1_000, min(1_000_000, int(chunk * CHUNK_TARGET_S / max(took, 0.01))))
        else:
            seeded.add(table.name)
