"""The directive registry: every directive Wesley understands, its canonical `@wes_*` name,
its aliases, and the GraphQL declaration Wesley supplies when the user's file has none.

One table, so adding a directive is one entry. Aliases: every canonical `wes_x` is also
accepted as `wesley_x` and, for the upstream tool's bare spellings, as listed in `legacy`.
"""

from __future__ import annotations

from dataclasses import dataclass

OBJ = "OBJECT"
FIELD = "FIELD_DEFINITION"
ENUM = "ENUM"

# Internal scalar for arguments that take any literal (`@wes_default(value: 0)`,
# `onDelete: CASCADE`): graphql-core then hands us the untyped value and we check it.
ANY_SCALAR = "WesValue"

_ROLES = "[String!]"


@dataclass(frozen=True)
class DirectiveSpec:
    name: str  # canonical, without "@"
    locations: tuple[str, ...]
    args: tuple[tuple[str, str], ...] = ()
    repeatable: bool = False
    legacy: tuple[str, ...] = ()

    def declaration(self, spelled: str) -> str:
        args = ", ".join(f"{a}: {t}" for a, t in self.args)
        arglist = f"({args})" if args else ""
        rep = " repeatable" if self.repeatable else ""
        return f"directive @{spelled}{arglist}{rep} on {' | '.join(self.locations)}"


_RLS_ARGS: tuple[tuple[str, str], ...] = (
    ("enabled", "Boolean"),
    ("force", "Boolean"),
    ("using", "String"),
    ("check", "String"),
    ("select", "String"),
    ("insert", "String"),
    ("update", "String"),
    ("delete", "String"),
    ("roles", _ROLES),
    ("selectRoles", _ROLES),
    ("insertRoles", _ROLES),
    ("updateRoles", _ROLES),
    ("deleteRoles", _ROLES),
    ("preset", "String"),
    ("name", "String"),
    ("options", ANY_SCALAR),
)

_COLS = (("columns", "[String!]"), ("fields", "[String!]"))
_REL = (("type", "String"), ("field", "String"), ("via", "String"), ("ref", "String"))

DIRECTIVES: tuple[DirectiveSpec, ...] = (
    DirectiveSpec("wes_table", (OBJ,), (("name", "String"),), legacy=("table",)),
    DirectiveSpec("wes_column", (FIELD,), (("name", "String"),), legacy=("column",)),
    DirectiveSpec("wes_pk", (FIELD, OBJ), _COLS, legacy=("pk", "primaryKey")),
    DirectiveSpec(
        "wes_fk",
        (FIELD,),
        (
            ("ref", "String!"),
            ("onDelete", ANY_SCALAR),
            ("onUpdate", ANY_SCALAR),
            ("name", "String"),
        ),
        legacy=("fk", "foreignKey"),
    ),
    DirectiveSpec(
        "wes_unique",
        (FIELD, OBJ),
        (*_COLS, ("name", "String")),
        repeatable=True,
        legacy=("unique",),
    ),
    DirectiveSpec(
        "wes_index",
        (FIELD, OBJ),
        (
            ("name", "String"),
            ("using", "String"),
            ("where", "String"),
            *_COLS,
            ("unique", "Boolean"),
        ),
        repeatable=True,
        legacy=("index",),
    ),
    DirectiveSpec(
        "wes_default",
        (FIELD,),
        (("value", ANY_SCALAR), ("expr", "String")),
        legacy=("default",),
    ),
    DirectiveSpec(
        "wes_check", (FIELD, OBJ), (("expr", "String!"), ("name", "String")), True, ("check",)
    ),
    DirectiveSpec("wes_tenant", (OBJ,), (("by", "String!"),), legacy=("tenant",)),
    DirectiveSpec("wes_rls", (OBJ,), _RLS_ARGS, legacy=("rls",)),
    DirectiveSpec(
        "wes_owner",
        (OBJ,),
        (
            ("column", "String"),
            ("select", "String"),
            ("insert", "String"),
            ("update", "String"),
            ("delete", "String"),
        ),
        legacy=("owner",),
    ),
    DirectiveSpec("wes_grant", (OBJ, FIELD), (("roles", _ROLES),), legacy=("grant",)),
    DirectiveSpec("wes_rpc", (OBJ,), (("operations", "[String!]"),), legacy=("rpc",)),
    DirectiveSpec("wes_noRPC", (OBJ, FIELD), legacy=("noRPC",)),
    DirectiveSpec("wes_uid", (OBJ, FIELD, ENUM), (("value", "String!"),), legacy=("uid",)),
    DirectiveSpec("wes_weight", (OBJ, FIELD), (("value", "Int!"),), legacy=("weight",)),
    DirectiveSpec("wes_critical", (OBJ, FIELD), legacy=("critical",)),
    DirectiveSpec("wes_sensitive", (OBJ, FIELD), legacy=("sensitive",)),
    DirectiveSpec("wes_pii", (OBJ, FIELD), legacy=("pii",)),
    DirectiveSpec("wes_hasMany", (FIELD,), _REL, legacy=("hasMany",)),
    DirectiveSpec("wes_hasOne", (FIELD,), _REL, legacy=("hasOne",)),
    DirectiveSpec("wes_belongsTo", (FIELD,), _REL, legacy=("belongsTo",)),
    DirectiveSpec(
        "wes_renamedFrom", (OBJ, FIELD, ENUM), (("name", "String!"),), legacy=("renamedFrom",)
    ),
    DirectiveSpec("wes_updatedAt", (FIELD,), legacy=("updatedAt",)),
    DirectiveSpec("wes_cast", (FIELD,), (("using", "String"), ("reverse", "String"))),
    # value refinements: a zod refinement and (check: false opts out) a CHECK constraint
    DirectiveSpec("wes_email", (FIELD,), (("check", "Boolean"),), legacy=("email",)),
    DirectiveSpec("wes_url", (FIELD,), (("check", "Boolean"),), legacy=("url",)),
    DirectiveSpec("wes_ip", (FIELD,), (("check", "Boolean"),), legacy=("ip",)),
    DirectiveSpec(
        "wes_min", (FIELD,), (("value", f"{ANY_SCALAR}!"), ("check", "Boolean")), legacy=("min",)
    ),
    DirectiveSpec(
        "wes_max", (FIELD,), (("value", f"{ANY_SCALAR}!"), ("check", "Boolean")), legacy=("max",)
    ),
    DirectiveSpec(
        "wes_length",
        (FIELD,),
        (("min", "Int"), ("max", "Int"), ("check", "Boolean")),
        legacy=("length",),
    ),
    DirectiveSpec(
        "wes_regex", (FIELD,), (("pattern", "String!"), ("check", "Boolean")), legacy=("regex",)
    ),
    DirectiveSpec("wes_generated", (FIELD,), (("expr", "String!"),), legacy=("generated",)),
    DirectiveSpec(
        "wes_computed", (FIELD,), (("expr", "String"), ("count", "String")), legacy=("computed",)
    ),
)

BY_CANONICAL: dict[str, DirectiveSpec] = {d.name: d for d in DIRECTIVES}

# Arguments the registry declares (upstream files use them) that Wesley does not implement
# yet: rejected with a coded error whenever a schema passes one, never silently dropped
# (tests/test_directive_arguments.py holds every argument to "consumed or rejected").
UNSUPPORTED_ARGS: dict[tuple[str, str], tuple[str, str]] = {
    ("wes_rls", "name"): (
        "ARGUMENT_UNSUPPORTED",
        "name: is not read: Wesley names policies <table>_<rule> (<table>_select, "
        "<table>_owner, <table>_soft_delete_select, ...)",
    ),
    **{
        ("wes_owner", command): (
            "ARGUMENT_UNSUPPORTED",
            f"@wes_owner takes column: only; write a {command} rule as SQL in "
            f'@wes_rls({command}: "...") (the owner policy covers every command)',
        )
        for command in ("select", "insert", "update", "delete")
    },
    **{
        (relation, arg): (
            "ARGUMENT_UNSUPPORTED",
            "relation fields are virtual: the join is the @wes_fk of the related type; "
            "only type: is read",
        )
        for relation in ("wes_hasMany", "wes_hasOne", "wes_belongsTo")
        for arg in ("field", "via", "ref")
    },
}


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in DIRECTIVES:
        table[spec.name] = spec.name
        table["wesley_" + spec.name.removeprefix("wes_")] = spec.name
        for legacy in spec.legacy:
            table[legacy] = spec.name
    return table


ALIASES: dict[str, str] = _aliases()


def canonical_name(spelled: str) -> str | None:
    """`wesley_pk`, `primaryKey`, `wes_pk` → `wes_pk`; unknown names → None."""
    return ALIASES.get(spelled)


def is_alias(spelled: str) -> bool:
    return spelled in ALIASES and ALIASES[spelled] != spelled


# Scalars Wesley maps to PostgreSQL types without the user declaring them (DESIGN §2).
BUILTIN_SCALARS: dict[str, str] = {
    "ID": "uuid",
    "UUID": "uuid",
    "String": "text",
    "Int": "integer",
    "Float": "double precision",
    "Boolean": "boolean",
    "DateTime": "timestamptz",
    "Date": "date",
    "Time": "time",
    "JSON": "jsonb",
    "Decimal": "numeric",
    "BigInt": "bigint",
    "Inet": "inet",
}
_GRAPHQL_SPEC_SCALARS = {"ID", "String", "Int", "Float", "Boolean"}


def prelude(
    declared_directives: set[str], declared_types: set[str], only: set[str] | None = None
) -> str:
    """The GraphQL text Wesley adds to a user's file: a declaration of every directive
    spelling and custom scalar the file does not declare itself, so graphql-core can
    validate the whole document (user declarations win, as upstream files have their own).
    `only`: declare just these directive spellings (None: all of them)."""
    lines: list[str] = []
    for scalar in [*BUILTIN_SCALARS, ANY_SCALAR]:
        if scalar not in _GRAPHQL_SPEC_SCALARS and scalar not in declared_types:
            lines.append(f"scalar {scalar}")
    for spelled, canonical in ALIASES.items():
        if spelled not in declared_directives and (only is None or spelled in only):
            lines.append(BY_CANONICAL[canonical].declaration(spelled))
    return "\n".join(lines) + "\n"
