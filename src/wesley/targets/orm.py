"""What the ORM targets (`prisma`, `drizzle`) share: the pin line, valid identifiers, the
relation fields both sides of every foreign key, and PostgreSQL types taken apart.

Relation fields come from the schema's own `@wes_belongsTo` / `@wes_hasMany` / `@wes_hasOne`
fields when one foreign key links the two tables and one such field names it; otherwise
(an introspected IR, several keys between the same tables) they are derived from the names,
deterministically, never clashing with a column's field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wesley.ir import IR, ForeignKey, Table, ir_hash

PIN_PREFIX = "// wesley:pin"
_PIN = re.compile(r"^// wesley:pin target=(?P<target>[a-z]+) ir_hash=(?P<hash>[0-9a-f]{64})$")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TYPE = re.compile(r"^(?P<name>[a-z][a-z0-9 _]*?)\s*(?:\((?P<mod>[^)]*)\))?$")


def pin_line(target: str, ir: IR) -> str:
    """The first line of a pinned file: the target and the IR hash it was generated from."""
    return f"{PIN_PREFIX} target={target} ir_hash={ir_hash(ir)}"


def read_pin(text: str) -> tuple[str, str] | None:
    """(target, ir_hash) of a pinned file's first line, or None."""
    first = text.split("\n", 1)[0].rstrip("\r")
    m = _PIN.match(first)
    return (m.group("target"), m.group("hash")) if m else None


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


def identifier(name: str, taken: set[str], reserved: frozenset[str] = frozenset()) -> str:
    """`name` made a plain identifier (letters, digits, `_`, a letter first) that is not in
    `taken` nor `reserved`; the result is added to `taken`."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not _IDENT.match(base):
        base = "x" + base
    candidate, n = base, 2
    while candidate in taken or candidate in reserved:
        candidate = f"{base}{n}"
        n += 1
    taken.add(candidate)
    return candidate


@dataclass(frozen=True)
class PgType:
    """A column type taken apart: `numeric(12,2)[]` → name numeric, args (12, 2), array."""

    name: str
    args: tuple[int, ...]
    array: bool


_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
    "decimal": "numeric",
    "character varying": "varchar",
    "character": "char",
    "bpchar": "char",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}


def pg_type(type_text: str, array: bool) -> PgType:
    base = type_text
    while base.endswith("[]"):
        base = base[:-2]
        array = True
    m = _TYPE.match(base.strip())
    if not m:
        return PgType(base, (), array)
    name = _ALIASES.get(m.group("name"), m.group("name"))
    mod = m.group("mod")
    args = tuple(int(a) for a in mod.split(",") if a.strip().isdigit()) if mod else ()
    return PgType(name, args, array)


@dataclass(frozen=True)
class Link:
    """One foreign key seen as a relation: a field on the table holding the key (`owner`)
    and one on the table it points at (`target`)."""

    fk: ForeignKey
    owner: Table
    target: Table
    owner_field: str
    back_field: str
    one_to_one: bool  # the key's columns are unique in owner: the back side is a single row
    optional: bool  # a key column is nullable
    name: str | None  # a relation name, when two relations could be confused


def _is_unique(table: Table, columns: list[str]) -> bool:
    wanted = sorted(columns)
    if sorted(table.primary_key) == wanted:
        return True
    if any(sorted(u.columns) == wanted for u in table.uniques):
        return True
    return any(
        ix.unique and ix.where is None and sorted(ix.columns) == wanted for ix in table.indexes
    )


def _declared(table: Table, kinds: tuple[str, ...], target_type: str) -> list[str]:
    return [r.field for r in table.relations if r.kind in kinds and r.target_type == target_type]


def links_of(rels: list[Link]) -> dict[str, list[Link]]:
    """table name → the links it owns or is the target of, in `rels` order, each once (a
    per-table scan of every link was quadratic: seconds at 1,000 tables)."""
    out: dict[str, list[Link]] = {}
    for link in rels:
        out.setdefault(link.owner.name, []).append(link)
        if link.target.name != link.owner.name:
            out.setdefault(link.target.name, []).append(link)
    return out


def links(
    ir: IR, taken: dict[str, set[str]], skip: frozenset[str] | set[str] = frozenset()
) -> list[Link]:
    """Every foreign key between tables not in `skip` as a Link; `taken[table]` holds the
    field names already used in each table and receives the new ones."""
    by_name = {t.name: t for t in ir.tables}
    pairs: dict[frozenset[str], int] = {}
    fks: list[tuple[Table, ForeignKey, Table]] = []
    for table in ir.tables:
        for fk in table.foreign_keys:
            target = by_name.get(fk.ref_table)
            if target is None or table.name in skip or target.name in skip:
                continue
            fks.append((table, fk, target))
            key = frozenset((table.name, target.name))
            pairs[key] = pairs.get(key, 0) + 1
    out: list[Link] = []
    for owner, fk, target in fks:
        ambiguous = pairs[frozenset((owner.name, target.name))] > 1 or owner.name == target.name
        fields = {c.name: c.field for c in owner.columns}
        owner_declared = _declared(owner, ("belongsTo",), target.type_name)
        back_declared = _declared(target, ("hasMany", "hasOne"), owner.type_name)
        if (
            not ambiguous
            and len(owner_declared) == 1
            and owner_declared[0] not in taken[owner.name]
        ):
            owner_field = identifier(owner_declared[0], taken[owner.name])
        else:
            col_field = fields.get(fk.columns[0], fk.columns[0]) if len(fk.columns) == 1 else ""
            stem = re.sub(r"(_id|Id|ID)$", "", col_field) if col_field else ""
            if not stem or stem == col_field:
                stem = lower_first(target.type_name)
                if ambiguous:
                    stem += "By" + pascal("_".join(fk.columns))
            owner_field = identifier(stem, taken[owner.name])
        if not ambiguous and len(back_declared) == 1:
            back_field = identifier(back_declared[0], taken[target.name])
        else:
            stem = lower_first(owner.type_name)
            if ambiguous:
                stem += "By" + pascal(owner_field)
            back_field = identifier(stem, taken[target.name])
        out.append(
            Link(
                fk=fk,
                owner=owner,
                target=target,
                owner_field=owner_field,
                back_field=back_field,
                one_to_one=_is_unique(owner, fk.columns),
                optional=any(
                    (c := owner.column(name)) is not None and c.nullable for name in fk.columns
                ),
                name=fk.name if ambiguous else None,
            )
        )
    return out
