"""The intermediate representation (DESIGN §3): models, canonical JSON, `ir_hash`, JSON Schema.

The IR is what every target and the planner read. It is plain data: SQL names already
mapped, PostgreSQL types already chosen, constraint names already derived, so no consumer has
to know GraphQL. JSON keys are camelCase (the DESIGN's spelling); Python attributes are
snake_case. `schemas/ir.schema.json` is generated from these models (`wesley.schemas`) and a
test fails when the checked-in copy is stale.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from wesley.factories import new_dict, new_list
from wesley.jsontext import Sorted

IR_VERSION: Literal[1] = 1

JsonValue = Any  # directive arguments are arbitrary JSON values


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
    )


class SourcePos(_Model):
    """Where a node starts in the SDL (1-based). The file is not part of the IR, so the
    same schema moved to another path keeps its `ir_hash`."""

    line: int
    column: int


class DirectiveUse(_Model):
    """One directive as written, under its canonical name, with its arguments."""

    name: str
    args: dict[str, JsonValue] = Field(default_factory=new_dict)


class Default(_Model):
    """`literal`: a value Wesley quoted itself; `expr`: an SQL expression checked by pglast
    and re-rendered from its parse tree (never the user's text pasted as is)."""

    kind: Literal["literal", "expr"]
    sql: str


class Cast(_Model):
    """`@wes_cast`: how a type change converts values. `using`: SQL computing the new value
    from the old column (by its old SQL name); `reverse`: the old value from the new column
    (by its new SQL name), for rows the new application version writes while both run. Absent:
    a plain cast (`CAST(col AS type)`) each way."""

    using: str | None = None
    reverse: str | None = None


RefinementKind = Literal["email", "url", "ip", "min", "max", "length", "regex"]


class Refinement(_Model):
    """A value refinement (`@wes_email`, `@wes_min(value:)`, …): a zod refinement in `zod.ts`
    and, unless `check` is None (opted out with `check: false`), the CHECK constraint of that
    name in `checks`. On text, min/max/length count characters; on numbers min/max bound the
    value."""

    kind: RefinementKind
    value: str | None = Field(default=None, description="min/max: the bound as decimal text")
    min: int | None = Field(default=None, description="length: the least number of characters")
    max: int | None = Field(default=None, description="length: the most number of characters")
    pattern: str | None = Field(default=None, description="regex: the pattern")
    check: str | None = Field(default=None, description="the CHECK constraint's name")


class Computed(_Model):
    """`@wes_computed`: a value triggers maintain. `expr`: one SQL expression over the row's own
    columns, set before every insert and update (volatile functions allowed: `now()`);
    `count`: the number of rows of `table` whose foreign key column `column` refers to this
    row, kept by triggers on that table."""

    kind: Literal["expr", "count"]
    expr: str | None = None
    table: str | None = Field(default=None, description="count: the counted table")
    column: str | None = Field(default=None, description="count: its column referring here")


Privilege = Literal["SELECT", "INSERT", "UPDATE", "DELETE"]
PRIVILEGES: tuple[Privilege, ...] = ("SELECT", "INSERT", "UPDATE", "DELETE")
TABLE_GRANT: list[Privilege] = list(PRIVILEGES)  # what `@wes_grant` on a type grants
COLUMN_GRANT: list[Privilege] = ["SELECT"]  # what `@wes_grant` on a field grants
PUBLIC = "PUBLIC"  # the grantee everyone is


class Grant(_Model):
    """Privileges one role holds on a table (or a column), as PostgreSQL's ACL says. Wesley
    manages SELECT, INSERT, UPDATE and DELETE of every role but the table's owner."""

    role: str = Field(description='a role name, or "PUBLIC"')
    privileges: list[Privilege] = Field(description="in the order SELECT, INSERT, UPDATE, DELETE")


def _grants(value: Any, privileges: list[Privilege]) -> Any:
    # IR files written before grants carried privileges list role names only
    if isinstance(value, list):
        return [{"role": g, "privileges": privileges} if isinstance(g, str) else g for g in value]
    return value


class Column(_Model):
    name: str
    field: str = Field(description="the GraphQL field name (TypeScript and Zod use it)")
    uid: str
    type: str = Field(description="PostgreSQL type, e.g. uuid, text, integer, text[]")
    graphql_type: str
    nullable: bool
    array: bool = False
    enum: str | None = Field(default=None, description="SQL name of the enum type, if any")
    default: Default | None = None
    unique: bool = False
    weight: int | None = Field(default=None, description="explicit @wes_weight, 1..10")
    classification: list[Literal["critical", "sensitive", "pii"]] = Field(default_factory=new_list)
    updated_at: bool = Field(default=False, description="@wes_updatedAt: set on every update")
    grants: list[Grant] = Field(default_factory=new_list)
    renamed_from: str | None = None
    cast: Cast | None = None
    refinements: list[Refinement] = Field(default_factory=new_list)
    generated: str | None = Field(
        default=None, description="@wes_generated: GENERATED ALWAYS AS (generated) STORED"
    )
    computed: Computed | None = None
    directives: list[DirectiveUse] = Field(default_factory=new_list)
    source: SourcePos

    @field_validator("grants", mode="before")
    @classmethod
    def _old_grants(cls, value: Any) -> Any:
        return _grants(value, COLUMN_GRANT)

    @property
    def no_rpc(self) -> bool:
        """`@wes_noRPC`: the `@wes_rpc` functions neither accept nor return this field."""
        return any(d.name == "wes_noRPC" for d in self.directives)

    @property
    def read_only(self) -> bool:
        """The database sets it (`@wes_generated`, `@wes_computed`): no client writes it."""
        return self.generated is not None or self.computed is not None


FkAction = Literal["NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"]


class ForeignKey(_Model):
    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: FkAction = "NO ACTION"
    on_update: FkAction = "NO ACTION"


class Unique(_Model):
    name: str
    columns: list[str]


class Index(_Model):
    name: str
    columns: list[str]
    unique: bool = False
    using: Literal["btree", "hash", "gin", "gist", "brin"] = "btree"
    where: str | None = None


class Check(_Model):
    name: str
    expr: str
    column: str | None = Field(default=None, description="set when declared on a field")


class RlsPreset(_Model):
    """`@wes_rls(preset:, options:)` resolved: the preset's canonical name and its options
    with SQL names (columns, the membership table) and role lists filled in."""

    name: Literal[
        "owner",
        "tenant",
        "public-read",
        "authenticated",
        "admin-only",
        "soft-delete",
        "time-window",
        "hierarchical",
    ]
    options: dict[str, str | list[str]] = Field(default_factory=new_dict)


class Rls(_Model):
    """Row-level security. Expressions are SQL checked by pglast; None means no policy
    for that command unless tenant/owner rules add one. `keywords`: the commands whose
    rule is one of the upstream policy keywords (`tenant`, `owner_or_admin`, ...) instead of
    SQL; `admin_roles`: the roles an admin rule (`admin-only`, `owner_or_admin`) grants to."""

    enabled: bool = True
    force: bool = True
    using: str | None = None
    check: str | None = None
    select: str | None = None
    insert: str | None = None
    update: str | None = None
    delete: str | None = None
    roles: list[str] = Field(
        default_factory=new_list, description="TO of every policy without roles of its own"
    )
    select_roles: list[str] = Field(default_factory=new_list, description="TO of the select policy")
    insert_roles: list[str] = Field(default_factory=new_list, description="TO of the insert policy")
    update_roles: list[str] = Field(default_factory=new_list, description="TO of the update policy")
    delete_roles: list[str] = Field(default_factory=new_list, description="TO of the delete policy")
    preset: RlsPreset | None = None
    keywords: dict[str, str] = Field(default_factory=new_dict)
    admin_roles: list[str] = Field(default_factory=new_list)


class Policy(_Model):
    """A row-level security policy as PostgreSQL stores it; derived from tenant/owner/rls
    when the IR comes from SDL, read from pg_policy when it comes from a database."""

    name: str
    command: Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]
    permissive: bool = True
    roles: list[str] = Field(default_factory=new_list, description="empty: PUBLIC")
    using: str | None = None
    check: str | None = None


class Owner(_Model):
    column: str


class Relation(_Model):
    """A virtual field (@wes_hasMany/@wes_hasOne/@wes_belongsTo): no column."""

    field: str
    kind: Literal["hasMany", "hasOne", "belongsTo"]
    target_type: str
    many: bool = Field(description="the field is a list")


class Table(_Model):
    name: str
    type_name: str
    uid: str
    columns: list[Column]
    primary_key: list[str] = Field(default_factory=new_list)
    foreign_keys: list[ForeignKey] = Field(default_factory=new_list)
    uniques: list[Unique] = Field(default_factory=new_list)
    indexes: list[Index] = Field(default_factory=new_list)
    checks: list[Check] = Field(default_factory=new_list)
    tenant_by: str | None = None
    rls: Rls | None = None
    policies: list[Policy] = Field(default_factory=new_list)
    owner: Owner | None = None
    grants: list[Grant] = Field(default_factory=new_list)
    weight: int | None = None
    classification: list[Literal["critical", "sensitive", "pii"]] = Field(default_factory=new_list)
    relations: list[Relation] = Field(default_factory=new_list)
    renamed_from: str | None = None
    directives: list[DirectiveUse] = Field(default_factory=new_list)
    source: SourcePos

    @field_validator("grants", mode="before")
    @classmethod
    def _old_grants(cls, value: Any) -> Any:
        return _grants(value, TABLE_GRANT)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class Enum(_Model):
    name: str
    type_name: str
    uid: str
    values: list[str]
    source: SourcePos


RpcKind = Literal["create", "get", "update", "delete", "list"]


class Function(_Model):
    """A generated SQL function (`@wes_rpc`), as PostgreSQL prints it back: `arguments` is
    `pg_get_function_arguments`, `identity` `pg_get_function_identity_arguments`, `returns`
    `pg_get_function_result`, `body` the text between the dollar quotes (`prosrc`). So a
    function read from a database compares equal to the one the schema asks for."""

    name: str
    kind: RpcKind
    table: str
    uid: str
    arguments: str
    identity: str
    returns: str
    body: str
    language: str = "plpgsql"
    volatility: Literal["volatile", "stable", "immutable"] = "volatile"
    security_definer: bool = False
    grants: list[str] = Field(
        default_factory=new_list, description="roles with EXECUTE (PUBLIC's is revoked)"
    )
    source: SourcePos


class IR(_Model):
    version: Literal[1] = IR_VERSION
    tables: list[Table] = Field(default_factory=new_list)
    enums: list[Enum] = Field(default_factory=new_list)
    functions: list[Function] = Field(default_factory=new_list)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json_data(self) -> dict[str, Any]:
        """The IR as JSON data (a fresh copy: callers may change it)."""
        data = self.model_dump(mode="json", by_alias=True)
        if not data["functions"]:
            del data["functions"]  # a schema without @wes_rpc keeps the ir_hash it always had
        return data


# An IR is frozen, and one transform or plan asks for its JSON and its hash several times
# (artifact, evidence, snapshot, plan, history): each is computed once per IR object, kept
# while the object lives (by id, dropped by a weakref callback: a frozen model with lists is
# not hashable). Nothing edits an IR's lists in place once it is built.
_DERIVED: dict[int, dict[str, Any]] = {}


def _derived(ir: IR) -> dict[str, Any]:
    key = id(ir)
    entry = _DERIVED.get(key)
    if entry is None:
        entry = {}
        _DERIVED[key] = entry
        weakref.finalize(ir, _DERIVED.pop, key, None)
    return entry


def _sorted_of(ir: IR) -> Sorted:
    """The IR's JSON data, keys sorted: kept until both its text and its hash are taken."""
    entry = _derived(ir)
    if "sorted" not in entry:
        entry["sorted"] = Sorted(ir.to_json_data(), given=True)  # a fresh copy: ours
    done: Sorted = entry["sorted"]
    return done


def _taken(entry: dict[str, Any]) -> None:
    if "pretty" in entry and "hash" in entry:
        entry.pop("sorted", None)  # a transform's biggest object after the IR itself


def ir_pretty_json(ir: IR) -> str:
    """`ir.json`'s text: indented, sorted keys, UTF-8, a final newline (computed once)."""
    entry = _derived(ir)
    if "pretty" not in entry:
        entry["pretty"] = _sorted_of(ir).pretty() + "\n"
        _taken(entry)
    text: str = entry["pretty"]
    return text


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the bytes every hash in Wesley is taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(raw).hexdigest()


def ir_hash(ir: IR) -> str:
    entry = _derived(ir)
    if "hash" not in entry:
        # canonical_json's bytes, from the walk ir.json's text shares (see wesley.jsontext)
        entry["hash"] = sha256_hex(_sorted_of(ir).compact())
        _taken(entry)
    digest: str = entry["hash"]
    return digest


def ir_from_json(data: Any) -> IR:
    return IR.model_validate(data)
