"""SQL names: snake_case mapping, identifier validation, deterministic constraint names."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently cut

# Zero-width boundaries (one character either side), so a name costs linear time: the
# earlier `([A-Z]+)([A-Z][a-z])` backtracked quadratically over a long run of capitals.
_BOUNDARY_1 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")  # HTTPLog: between P and L
_BOUNDARY_2 = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # createdAt: between d and A
SHOWN_NAME_CHARS = 40  # how much of a too-long name a message repeats


# pure and called per name per target (tens of thousands of times at 1,000 tables)
@lru_cache(maxsize=65536)
def snake_case(name: str) -> str:
    """`OrderItem` → `order_item`, `createdAt` → `created_at`, `HTTPLog` → `http_log`."""
    s = _BOUNDARY_1.sub("_", name)
    s = _BOUNDARY_2.sub("_", s)
    return s.lower()


def shown(name: str) -> str:
    """`name` for a message: quoted, and cut with its length when it is long."""
    if len(name) <= SHOWN_NAME_CHARS:
        return repr(name)
    return f"{name[:SHOWN_NAME_CHARS]!r}… ({len(name)} characters)"


@lru_cache(maxsize=65536)
def identifier_problem(name: str) -> str | None:
    """Why `name` cannot be a PostgreSQL identifier, or None if it can (quoting is the
    targets' job; any other character is fine once quoted)."""
    if not name:
        return "is empty"
    if "\x00" in name:
        return "contains a NUL byte"
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        return f"is {size} bytes long; PostgreSQL keeps only {MAX_IDENTIFIER_BYTES}"
    return None


def constraint_name(table: str, columns: list[str], suffix: str) -> str:
    """PostgreSQL's own convention (`<table>_<cols>_<suffix>`), cut to 63 bytes with a short
    hash of the full name so two long names never collide after truncation."""
    full = "_".join([table, *columns, suffix])
    if len(full.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    tail = f"_{digest}_{suffix}"
    budget = MAX_IDENTIFIER_BYTES - len(tail.encode("utf-8"))
    head = full.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return head + tail


# Types PostgreSQL resolves from pg_catalog before the user's schema: an enum of one of these
# names would be silently shadowed by the built-in wherever a column uses it.
BUILTIN_TYPE_NAMES = frozenset(
    [
        "bigint",
        "bigserial",
        "bit",
        "bool",
        "boolean",
        "box",
        "bpchar",
        "bytea",
        "char",
        "character",
        "cidr",
        "circle",
        "date",
        "decimal",
        "double",
        "float",
        "float4",
        "float8",
        "inet",
        "int",
        "int2",
        "int4",
        "int8",
        "integer",
        "interval",
        "json",
        "jsonb",
        "line",
        "lseg",
        "macaddr",
        "macaddr8",
        "money",
        "name",
        "numeric",
        "oid",
        "path",
        "point",
        "polygon",
        "real",
        "record",
        "regclass",
        "serial",
        "smallint",
        "smallserial",
        "text",
        "tid",
        "time",
        "timestamp",
        "timestamptz",
        "timetz",
        "tsquery",
        "tsvector",
        "uuid",
        "varbit",
        "varchar",
        "void",
        "xid",
        "xml",
    ]
)


@dataclass(frozen=True)
class Naming:
    """How GraphQL names become SQL names (wesley.toml [naming]); here, not in wesley.sdl, so
    reading the config does not import the parser."""

    preserve: bool = False  # wesley.toml [naming] sql = "preserve"

    def sql(self, graphql_name: str) -> str:
        return graphql_name if self.preserve else snake_case(graphql_name)
