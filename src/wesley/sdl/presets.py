"""`@wes_rls(preset:, options:)` and the upstream policy keywords → the IR's `Rls`.

A preset names a common rule set; its options name columns (by GraphQL field or SQL name)
and roles. Everything is checked here, with a coded error at the directive:
`UNKNOWN_PRESET`, `INVALID_PRESET_OPTION` (an option the preset does not take, or of the
wrong kind), `UNKNOWN_COLUMN` (an option names no column), `MEMBERSHIP_TABLE_MISSING`
(hierarchical without a membership table), `UNKNOWN_POLICY_KEYWORD` (a keyword in `using:` or
`check:`), `TENANT_FIELD_MISSING`
/ `OWNER_COLUMN_MISSING` (a preset or keyword needs `@wes_tenant` / `@wes_owner`).
The rules themselves are in `wesley.sdl.policies`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast, get_args

from wesley.errors import Location, input_error
from wesley.ir import Owner, Rls, RlsPreset, Table
from wesley.sdl.document import require_identifier
from wesley.sdl.policies import COMMANDS, DEFAULT_ADMIN_ROLES, KEYWORDS, Rule

PresetName = Any  # one of RlsPreset.name's literals
NAMES: tuple[str, ...] = get_args(RlsPreset.model_fields["name"].annotation)

# preset → option → (kind, default); kind "column" | "roles" | "table"
_OPTIONS: dict[str, dict[str, tuple[str, str | None]]] = {
    "owner": {"column": ("column", None)},
    "tenant": {"column": ("column", None)},
    "public-read": {"column": ("column", None), "readRoles": ("roles", None)},
    "authenticated": {},
    "admin-only": {},
    "soft-delete": {"column": ("column", "deleted_at")},
    "time-window": {"start": ("column", "starts_at"), "end": ("column", "ends_at")},
    "hierarchical": {
        "column": ("column", None),
        "membership": ("table", None),
        "userColumn": ("column", "user_id"),
        "parentColumn": ("column", None),
    },
}
_EVERY_PRESET = {"adminRoles": ("roles", None)}
# the original's option names (RLSPresets.mjs) → ours
_UPSTREAM = {
    "owner_column": "column",
    "tenant_column": "column",
    "deleted_at_column": "column",
    "org_column": "column",
    "start_column": "start",
    "end_column": "end",
    "membership_table": "membership",
    "admin_roles": "adminRoles",
    "read_roles": "readRoles",
    "user_column": "userColumn",
    "parent_column": "parentColumn",
}
_TIME_TYPES = ("timestamptz", "timestamp", "date")


def preset_name(raw: object, where: Location | None) -> str:
    key = str(raw).strip().lower().replace("_", "-")
    key = {"public": "public-read", "admin": "admin-only", "auth": "authenticated"}.get(key, key)
    if key not in NAMES:
        raise input_error(
            "UNKNOWN_PRESET",
            f"@wes_rls(preset: {raw!r}) is not a preset",
            "one of: " + ", ".join(NAMES),
            where,
        )
    return key


def keyword_of(value: object, columns: set[str]) -> str | None:
    """The keyword a command's rule is, or None when it is SQL (a column of the table named
    like a keyword is SQL: write `"(tenant)"` to mean it)."""
    text = str(value).strip()
    word = text.lower()
    if word in KEYWORDS and text not in columns:
        return word
    return None


def _roles(value: object, what: str, where: Location | None) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(r, str) and r for r in items):
        raise input_error(
            "INVALID_PRESET_OPTION",
            f"{what} must be a role name or a list of them, not {value!r}",
            'e.g. adminRoles: ["service_role"]',
            where,
        )
    names = [str(r) for r in items]
    for name in names:
        require_identifier(name, f"role in {what}", where)
    # PostgreSQL keeps a policy's roles as a set (introspection reads them sorted); PUBLIC
    # is every role, which it stores as none
    return [] if any(n.lower() == "public" for n in names) else sorted(set(names))


@dataclass(frozen=True)
class TableInfo:
    """What a preset may refer to in a table: its GraphQL field → column names."""

    table: Table
    fields: dict[str, str]

    def column(self, name: str) -> str | None:
        if name in self.fields:
            return self.fields[name]
        return name if self.table.column(name) else None


def _find_column(info: TableInfo, name: str, what: str, where: Location | None) -> str:
    col = info.column(name)
    if col is None:
        raise input_error(
            "UNKNOWN_COLUMN",
            f"{what}: {info.table.type_name} has no field or column {name!r}",
            "fields: " + ", ".join(info.fields),
            where,
        )
    return col


def _membership(
    info: TableInfo, raw: str | None, column: str, tables: list[TableInfo], where: Location | None
) -> TableInfo:
    if raw is not None:
        found = next((t for t in tables if raw in (t.table.type_name, t.table.name)), None)
        if found is None:
            raise input_error(
                "MEMBERSHIP_TABLE_MISSING",
                f"hierarchical preset on {info.table.type_name}: no table {raw!r}",
                "membership: names a @wes_table type, e.g. Membership",
                where,
            )
        return found
    # as the original: a table whose name says member, with the user and parent columns
    candidates = [
        t
        for t in tables
        if "member" in t.table.name and t.column("user_id") and t.column(column) is not None
    ]
    if len(candidates) != 1:
        raise input_error(
            "MEMBERSHIP_TABLE_MISSING",
            f"hierarchical preset on {info.table.type_name}: "
            + ("no" if not candidates else "more than one")
            + f" membership table (a table named *member* with user_id and {column})",
            'name it: @wes_rls(preset: "hierarchical", options: {membership: "Membership"})',
            where,
        )
    return candidates[0]


def resolve(
    info: TableInfo,
    rls: Rls,
    raw_preset: object,
    raw_options: object,
    tables: list[TableInfo],
    where: Location | None,
) -> Table:
    """The table with its preset resolved (and `tenant_by`/`owner` set when the preset
    implies them), checked against the keywords' needs."""
    table = info.table
    options: dict[str, Any] = {}
    if raw_options is not None:
        if not isinstance(raw_options, dict):
            raise input_error(
                "INVALID_PRESET_OPTION",
                f"@wes_rls(options: {raw_options!r}) must be an object",
                'e.g. options: {column: "deleted_at"}',
                where,
            )
        options = {_UPSTREAM.get(str(k), str(k)): v for k, v in raw_options.items()}
    name = preset_name(raw_preset, where) if raw_preset is not None else None
    allowed = {**_EVERY_PRESET, **(_OPTIONS[name] if name else {})}
    for key in options:
        if key not in allowed:
            raise input_error(
                "INVALID_PRESET_OPTION",
                f"@wes_rls: {'preset ' + repr(name) if name else 'without a preset, it'} "
                f"takes no option {key!r}",
                "options: " + (", ".join(allowed) or "none"),
                where,
            )
    admin = (
        _roles(options["adminRoles"], "adminRoles", where)
        if "adminRoles" in options
        else (list(DEFAULT_ADMIN_ROLES))
    )
    resolved: dict[str, str | list[str]] = {}
    tenant_by, owner = table.tenant_by, table.owner
    if name is not None:
        for key, (kind, default) in _OPTIONS[name].items():
            value = options.get(key, default)
            if kind == "roles" and value is not None:
                resolved[key] = _roles(value, key, where)
            elif (
                kind == "column" and value is not None and key not in ("userColumn", "parentColumn")
            ):
                resolved[key] = _find_column(info, str(value), f"preset {name} {key}", where)
        if name in ("owner", "public-read"):
            wanted = resolved.get("column") or (owner.column if owner else None)
            if wanted is None:
                wanted = _find_column(info, "owner_id", f"preset {name} column", where)
            if owner is not None and owner.column != wanted:
                raise input_error(
                    "INVALID_PRESET_OPTION",
                    f"preset {name} on {table.type_name} names the owner column {wanted!r}, "
                    f"@wes_owner names {owner.column!r}",
                    "name one owner column",
                    where,
                )
            owner = Owner(column=str(wanted))
            resolved["column"] = str(wanted)
        elif name == "tenant":
            wanted = resolved.get("column") or tenant_by
            if wanted is None:
                raise input_error(
                    "TENANT_FIELD_MISSING",
                    f"preset tenant on {table.type_name} needs the tenant column",
                    'add @wes_tenant(by: "orgId") or options: {column: "orgId"}',
                    where,
                )
            if tenant_by is not None and tenant_by != wanted:
                raise input_error(
                    "INVALID_PRESET_OPTION",
                    f"preset tenant on {table.type_name} names {wanted!r}, @wes_tenant "
                    f"names {tenant_by!r}",
                    "name one tenant column",
                    where,
                )
            tenant_by = str(wanted)
            resolved["column"] = tenant_by
        elif name == "soft-delete":
            col = table.column(str(resolved["column"]))
            assert col is not None
            if not col.nullable:
                raise input_error(
                    "INVALID_PRESET_OPTION",
                    f"preset soft-delete: {table.name}.{col.name} is NOT NULL, so no row "
                    "would ever be visible",
                    f"make it nullable: {col.field}: DateTime",
                    where,
                )
        elif name == "time-window":
            for key in ("start", "end"):
                col = table.column(str(resolved[key]))
                assert col is not None
                if col.type not in _TIME_TYPES:
                    raise input_error(
                        "INVALID_PRESET_OPTION",
                        f"preset time-window {key}: {table.name}.{col.name} is {col.type}, "
                        "not a time",
                        "use DateTime or Date columns",
                        where,
                    )
        elif name == "hierarchical":
            column = str(resolved.get("column") or tenant_by or "")
            if not column:
                raise input_error(
                    "INVALID_PRESET_OPTION",
                    f"preset hierarchical on {table.type_name} needs the parent column",
                    'e.g. options: {column: "orgId", membership: "Membership"}',
                    where,
                )
            here = table.column(column)
            assert here is not None
            m = _membership(info, options.get("membership"), column, tables, where)
            parent_raw = str(options.get("parentColumn") or here.field)
            parent = m.column(parent_raw) or m.column(column)
            user = m.column(str(options.get("userColumn", "user_id")))
            if parent is None or user is None:
                missing = parent_raw if parent is None else options.get("userColumn", "user_id")
                raise input_error(
                    "UNKNOWN_COLUMN",
                    f"preset hierarchical: the membership table {m.table.type_name} has no "
                    f"column {missing!r}",
                    "name it with parentColumn: / userColumn:",
                    where,
                )
            ucol = m.table.column(user)
            assert ucol is not None
            resolved.update(
                column=column,
                membership=m.table.name,
                parentColumn=parent,
                userColumn=user,
                userType=ucol.type,
            )
    keywords = rls.keywords
    needs_tenant = {k for k, w in keywords.items() if _needs(KEYWORDS[w][0], "tenant")}
    needs_owner = {k for k, w in keywords.items() if _needs(KEYWORDS[w][0], "owner")}
    if needs_tenant and tenant_by is None:
        k = sorted(needs_tenant)[0]
        raise input_error(
            "TENANT_FIELD_MISSING",
            f"@wes_rls({k}: {keywords[k]!r}) on {table.type_name} needs a tenant column",
            'add @wes_tenant(by: "orgId")',
            where,
        )
    if needs_owner and owner is None:
        k = sorted(needs_owner)[0]
        raise input_error(
            "OWNER_COLUMN_MISSING",
            f"@wes_rls({k}: {keywords[k]!r}) on {table.type_name} needs an owner column",
            'add @wes_owner(column: "createdBy")',
            where,
        )
    uses_admin = name == "admin-only" or any(KEYWORDS[w][1] for w in keywords.values())
    new_rls = rls.model_copy(
        update={
            "preset": RlsPreset(name=cast(Any, name), options=resolved) if name else None,
            "admin_roles": admin if uses_admin else [],
        }
    )
    return table.model_copy(update={"rls": new_rls, "tenant_by": tenant_by, "owner": owner})


def _needs(rule: Rule | None, what: str) -> bool:
    if rule is None:
        return False
    if rule.op == "atom":
        return rule.atom == what
    return _needs(rule.left, what) or _needs(rule.right, what)


def split_keywords(
    args: dict[str, Any], columns: set[str], where: Location | None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Command → keyword for the commands written as keywords; the other arguments."""
    keywords: dict[str, str] = {}
    rest = dict(args)
    for key, _command in COMMANDS:
        raw = args.get(key)
        if raw is None:
            continue
        word = keyword_of(raw, columns)
        if word is not None:
            keywords[key] = word
            rest[key] = None
    for key in ("using", "check"):
        raw = args.get(key)
        if raw is not None and str(raw).strip().lower() in KEYWORDS:
            raise input_error(
                "UNKNOWN_POLICY_KEYWORD",
                f"@wes_rls({key}: {raw!r}): keywords name one command's rule",
                "write it per command: select:, insert:, update:, delete:",
                where,
            )
    return keywords, rest
