"""SQL spellings shared by the SQL-emitting targets: column types, qualified names, the
uid comment, table order by foreign-key dependencies."""

from __future__ import annotations

import re

from wesley.ir import IR, Column, Table
from wesley.naming import constraint_name
from wesley.sqltext import column_type, quote_ident, quote_literal

__all__ = ["column_type"]

UID_COMMENT_PREFIX = "wesley:uid="

# pglast renders these names; PostgreSQL's format_type() (what pgTAP compares) spells them so.
_FORMAT_TYPE = {
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
    "bool": "boolean",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "decimal": "numeric",
}
_TYPMOD = re.compile(r"^([a-z0-9 _]+?)\s*(\([^)]*\))?$")


def format_type(col: Column) -> str:
    """The type as `pg_catalog.format_type()` prints it, for pgTAP's col_type_is."""
    if col.enum:
        return quote_ident(col.enum) + ("[]" if col.array else "")
    base = col.type.removesuffix("[]")
    m = _TYPMOD.match(base)
    if m:
        name, mod = m.group(1), (m.group(2) or "").replace(" ", "")
        base = _FORMAT_TYPE.get(name, name) + mod
        if name in ("timestamptz", "timestamp", "timetz", "time") and mod:
            # format_type puts the precision before "with/without time zone"
            head, _, zone = _FORMAT_TYPE[name].partition(" ")
            base = f"{head}{mod} {zone}"
    return base + ("[]" if col.array else "")


def pk_name(table: Table) -> str:
    """PostgreSQL's own default name, kept within 63 bytes the way Wesley cuts every name."""
    return constraint_name(table.name, [], "pkey")


def uid_comment(uid: str) -> str:
    return quote_literal(UID_COMMENT_PREFIX + uid)


def ident_list(names: list[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def dependency_order(ir: IR) -> tuple[list[Table], set[tuple[str, str]]]:
    """Tables so that a referenced table comes before its referrers (source order among
    equals), and the (table, fk name) pairs that must be added after all tables because they
    close a cycle."""
    remaining = list(ir.tables)
    done: set[str] = set()
    ordered: list[Table] = []
    while remaining:
        ready = next(
            (
                t
                for t in remaining
                if all(fk.ref_table in done or fk.ref_table == t.name for fk in t.foreign_keys)
            ),
            None,
        )
        chosen = ready or remaining[0]  # a cycle: break it at the earliest table
        remaining.remove(chosen)
        ordered.append(chosen)
        done.add(chosen.name)
    deferred: set[tuple[str, str]] = set()
    seen: set[str] = set()
    for t in ordered:
        seen.add(t.name)
        for fk in t.foreign_keys:
            if fk.ref_table not in seen:
                deferred.add((t.name, fk.name))
    return ordered, deferred
