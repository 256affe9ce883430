"""`@wes_rpc` → CRUD functions in the IR: `create_/get_/update_/delete_/list_<table>`.

The jsonb input strategy (upstream's): a row or a patch is one `jsonb` argument keyed by the
GraphQL field names (the API's names, as in `types.ts`), and rows come back as `jsonb` with the
same keys. An unknown key is an error (SQLSTATE 22023), never ignored. Fields marked
`@wes_noRPC` are neither accepted nor returned. The functions are `SECURITY INVOKER`, so the
caller's privileges and row-level security apply to every row they touch; on a tenant (owner)
table a row created without its tenant (owner) field gets the session's tenant (user).

Bodies are PL/pgSQL: its statements are planned at first call, so creating a function takes
no lock on the table it reads, and nothing in the catalog ties the function to the table's row
type (a column added later needs only a new body, which the planner writes).
"""

from __future__ import annotations

from wesley.errors import Diagnostic, Location, input_error
from wesley.ir import Column, Function, RpcKind, Table
from wesley.sdl.document import require_identifier
from wesley.sqltext import column_type, quote_ident, quote_literal
from wesley.targets.sqlnames import format_type

KINDS: tuple[RpcKind, ...] = ("create", "get", "update", "delete", "list")
_KEYED: frozenset[str] = frozenset({"get", "update", "delete"})
LIST_LIMIT = 100
IN, ROW, UNKNOWN, T = "_wes_in", "_wes_row", "_wes_unknown", "_wes_t"


def _has(directives: list[object], name: str) -> dict[str, object] | None:
    for d in directives:
        if getattr(d, "name", None) == name:
            return dict(getattr(d, "args", {}))
    return None


def excluded(col: Column) -> bool:
    return col.no_rpc


def rpc_operations(table: Table, file: str | None, warnings: list[Diagnostic]) -> list[RpcKind]:
    """The functions `@wes_rpc(operations:)` asks for (all five by default)."""
    where = Location(file, table.source.line, table.source.column)
    args = _has(list(table.directives), "wes_rpc")
    if args is None:
        marked = [c.field for c in table.columns if excluded(c)]
        if marked:
            warnings.append(
                Diagnostic(
                    "W_NORPC_UNUSED",
                    f"@wes_noRPC on {table.type_name}.{', '.join(marked)} has no effect: "
                    f"{table.type_name} has no @wes_rpc",
                    where,
                    "add @wes_rpc to the type, or remove @wes_noRPC",
                )
            )
        return []
    if _has(list(table.directives), "wes_noRPC") is not None:
        raise input_error(
            "RPC_CONFLICT",
            f"{table.type_name} has both @wes_rpc and @wes_noRPC",
            "keep one: @wes_rpc generates the functions, @wes_noRPC says the table has none",
            where,
        )
    raw = args.get("operations")
    wanted = list(raw) if isinstance(raw, list) else list(KINDS)
    if not wanted:
        raise input_error(
            "INVALID_ARGUMENT",
            f"@wes_rpc(operations: []) on {table.type_name} asks for no function",
            "leave operations: out for all five, or name some of: " + ", ".join(KINDS),
            where,
        )
    for op in wanted:
        if op not in KINDS:
            raise input_error(
                "INVALID_ARGUMENT",
                f"@wes_rpc(operations:) on {table.type_name} names {op!r}",
                "operations are: " + ", ".join(KINDS),
                where,
            )
    kinds = [k for k in KINDS if k in wanted]
    if not table.primary_key and any(k in _KEYED for k in kinds):
        if isinstance(raw, list):
            raise input_error(
                "RPC_NEEDS_PRIMARY_KEY",
                f"@wes_rpc on {table.type_name}: get, update and delete find a row by its "
                "primary key, and the table has none",
                'mark a field @wes_pk, or ask only for operations: ["create", "list"]',
                where,
            )
        warnings.append(
            Diagnostic(
                "W_RPC_NO_PRIMARY_KEY",
                f"{table.name} has no primary key: only create_{table.name} and "
                f"list_{table.name} are generated",
                where,
                "mark a field @wes_pk for get, update and delete",
            )
        )
        kinds = [k for k in kinds if k not in _KEYED]
    exposed = [c for c in table.columns if not excluded(c)]
    auto = {table.tenant_by, table.owner.column if table.owner else None}
    for c in table.columns:
        if excluded(c) and not c.nullable and c.default is None and c.name not in auto:
            raise input_error(
                "RPC_FIELD_REQUIRED",
                f"{table.type_name}.{c.field} is @wes_noRPC but NOT NULL without a default: "
                f"create_{table.name} could never insert a row",
                "give it a default, make it nullable, or leave @wes_noRPC off",
                where,
            )
    if not exposed:
        raise input_error(
            "INVALID_ARGUMENT",
            f"every field of {table.type_name} is @wes_noRPC: the functions would show nothing",
            None,
            where,
        )
    if "update" in kinds and not [
        c for c in exposed if c.name not in table.primary_key and not c.read_only
    ]:
        kinds.remove("update")  # nothing to change: a key-only (or computed-only) table
    return kinds


def _values(cols: list[Column]) -> str:
    rows = ", ".join(f"({quote_literal(c.name)}, {quote_literal(c.field)})" for c in cols)
    return f"(VALUES {rows}) AS m(col, field)"


def _fields_array(cols: list[Column]) -> str:
    return "ARRAY[" + ", ".join(quote_literal(c.field) for c in cols) + "]::text[]"


def _check_keys(
    fn: str, arg: str, cols: list[Column], what: str, read_only: list[Column] | None = None
) -> list[str]:
    fields = ", ".join(c.field for c in cols)
    lines = [
        f"  IF jsonb_typeof({arg}) IS DISTINCT FROM 'object' THEN",
        f"    RAISE EXCEPTION {quote_literal(f'{fn}: {what} must be a JSON object')} "
        "USING ERRCODE = '22023';",
        "  END IF;",
    ]
    if read_only:  # generated and computed fields: returned, never written
        message = f"{fn}: field(s) the database computes, not writable, in {what}: %"
        lines += [
            f"  SELECT string_agg(k, ', ' ORDER BY k) INTO {UNKNOWN} FROM jsonb_object_keys({arg}) "
            f"AS k WHERE k = ANY ({_fields_array(read_only)});",
            f"  IF {UNKNOWN} IS NOT NULL THEN",
            f"    RAISE EXCEPTION {quote_literal(message)}, {UNKNOWN} "
            f"USING ERRCODE = '22023', HINT = {quote_literal(f'writable fields: {fields}')};",
            "  END IF;",
        ]
    return [
        *lines,
        f"  SELECT string_agg(k, ', ' ORDER BY k) INTO {UNKNOWN} FROM jsonb_object_keys({arg}) "
        f"AS k WHERE k <> ALL ({_fields_array(cols)});",
        f"  IF {UNKNOWN} IS NOT NULL THEN",
        f"    RAISE EXCEPTION {quote_literal(f'{fn}: unknown field(s) in {what}: %')}, {UNKNOWN} "
        f"USING ERRCODE = '22023', HINT = {quote_literal(f'fields: {fields}')};",
        "  END IF;",
    ]


def _populate(qt: str, arg: str, cols: list[Column]) -> str:
    mapped = (
        f"(SELECT COALESCE(jsonb_object_agg(m.col, {arg} -> m.field), '{{}}'::jsonb) "
        f"FROM {_values(cols)} WHERE {arg} ? m.field)"
    )
    return f"  {IN} := jsonb_populate_record(NULL::{qt}, {mapped});"


def _out(var: str, cols: list[Column]) -> str:
    return f"(SELECT jsonb_object_agg(m.field, to_jsonb({var}) -> m.col) FROM {_values(cols)})"


def _key_where(table: Table) -> str:
    return " AND ".join(f"{quote_ident(c)} = ${i}" for i, c in enumerate(table.primary_key, 1))


def _session_value(table: Table, col: Column) -> str | None:
    """What a row created without this field gets: the session's tenant or user."""
    if col.name == table.tenant_by:
        return f"(wesley.current_tenant())::{column_type(col)}"
    if table.owner is not None and col.name == table.owner.column:
        return f"(wesley.current_user_id())::{column_type(col)}"
    return None


def _body(kind: RpcKind, table: Table, fn: str, arg: str) -> tuple[list[str], list[str]]:
    """(declarations, statements) of one function."""
    qt = "public." + quote_ident(table.name)
    exposed = [c for c in table.columns if not excluded(c)]
    writable = [c for c in exposed if not c.read_only]
    read_only = [c for c in exposed if c.read_only]
    updatable = [c for c in writable if c.name not in table.primary_key]
    n = len(table.primary_key)
    decl = [f"  {IN} {qt};", f"  {ROW} {qt};", f"  {UNKNOWN} text;"]
    found = ["  IF NOT FOUND THEN", "    RETURN NULL;", "  END IF;"]
    if kind == "create":
        names: list[str] = []
        values: list[str] = []
        for c in table.columns:
            q = quote_ident(c.name)
            session = _session_value(table, c)
            if c.read_only:
                continue  # generated, or set by its trigger
            if excluded(c):
                if session is not None:
                    names.append(q)
                    values.append(session)
                continue
            fallback = session or (c.default.sql if c.default else None)
            names.append(q)
            values.append(
                f"CASE WHEN $1 ? {quote_literal(c.field)} THEN {IN}.{q} ELSE {fallback} END"
                if fallback
                else f"{IN}.{q}"
            )
        stmts = [
            *_check_keys(fn, "$1", writable, arg, read_only),
            _populate(qt, "$1", writable),
            f"  INSERT INTO {qt} ({', '.join(names)})",
            f"    VALUES ({', '.join(values)})",
            f"    RETURNING * INTO {ROW};",
            f"  RETURN {_out(ROW, exposed)};",
        ]
        return decl, stmts
    if kind == "get":
        stmts = [
            f"  SELECT * INTO {ROW} FROM {qt} WHERE {_key_where(table)};",
            *found,
            f"  RETURN {_out(ROW, exposed)};",
        ]
        return decl[1:2], stmts
    if kind == "update":
        p = f"${n + 1}"
        sets = ", ".join(
            f"{quote_ident(c.name)} = CASE WHEN {p} ? {quote_literal(c.field)} THEN "
            f"{IN}.{quote_ident(c.name)} ELSE {quote_ident(c.name)} END"
            for c in updatable
        )
        stmts = [
            *_check_keys(fn, p, updatable, arg, read_only),
            _populate(qt, p, updatable),
            f"  UPDATE {qt} SET {sets}",
            f"    WHERE {_key_where(table)}",
            f"    RETURNING * INTO {ROW};",
            *found,
            f"  RETURN {_out(ROW, exposed)};",
        ]
        return decl, stmts
    if kind == "delete":
        return [], [f"  DELETE FROM {qt} WHERE {_key_where(table)};", "  RETURN FOUND;"]
    # list
    conds = " AND ".join(
        f"(NOT ($1 ? {quote_literal(c.field)}) OR {T}.{quote_ident(c.name)} IS NOT DISTINCT "
        f"FROM {IN}.{quote_ident(c.name)})"
        for c in exposed
    )
    order = ", ".join(f"{T}.{quote_ident(c)}" for c in table.primary_key)
    stmts = [
        *_check_keys(fn, "$1", exposed, arg),
        _populate(qt, "$1", exposed),
        f"  RETURN QUERY SELECT {_out(T, exposed)}",
        f"    FROM {qt} AS {T}",
        f"    WHERE {conds}",
        *([f"    ORDER BY {order}"] if order else []),
        "    LIMIT $2 OFFSET $3;",
    ]
    return decl[::2], stmts


_RETURNS: dict[RpcKind, str] = {
    "create": "jsonb",
    "get": "jsonb",
    "update": "jsonb",
    "delete": "boolean",
    "list": "SETOF jsonb",
}
_JSON_ARG: dict[RpcKind, str | None] = {
    "create": "input",
    "get": None,
    "update": "patch",
    "delete": None,
    "list": "filters",
}


def _arguments(kind: RpcKind, table: Table) -> tuple[str, str]:
    """(pg_get_function_arguments, pg_get_function_identity_arguments) as PostgreSQL prints
    them."""
    keys: list[tuple[str, str]] = []
    if kind in _KEYED:
        for name in table.primary_key:
            col = table.column(name)
            assert col is not None
            keys.append((quote_ident(name), format_type(col)))
    json_arg = _JSON_ARG[kind]
    full = [f"{n} {t}" for n, t in keys]
    ident = list(full)
    if json_arg is not None:
        name = json_arg if json_arg not in table.primary_key else f"_{json_arg}"
        if kind == "list":
            full += [
                f"{name} jsonb DEFAULT '{{}}'::jsonb",
                f'"limit" integer DEFAULT {LIST_LIMIT}',
                '"offset" integer DEFAULT 0',
            ]
            ident += [f"{name} jsonb", '"limit" integer', '"offset" integer']
        else:
            full.append(f"{name} jsonb")
            ident.append(f"{name} jsonb")
    return ", ".join(full), ", ".join(ident)


def function_name(kind: RpcKind, table: Table) -> str:
    return f"{kind}_{table.name}"


def rpc_functions(table: Table, kinds: list[RpcKind], file: str | None = None) -> list[Function]:
    out: list[Function] = []
    where = Location(file, table.source.line, table.source.column)
    for kind in kinds:
        name = require_identifier(function_name(kind, table), "function name", where)
        json_arg = _JSON_ARG[kind] or ""
        decl, stmts = _body(kind, table, name, json_arg)
        lines = ["", "#variable_conflict use_column"]
        if decl:
            lines += ["DECLARE", *decl]
        lines += ["BEGIN", *stmts, "END;", ""]
        arguments, identity = _arguments(kind, table)
        out.append(
            Function(
                name=name,
                kind=kind,
                table=table.name,
                uid=f"rpc:{table.name}.{kind}",
                arguments=arguments,
                identity=identity,
                returns=_RETURNS[kind],
                body="\n".join(lines),
                volatility="stable" if kind in ("get", "list") else "volatile",
                grants=sorted({g.role for g in table.grants}),
                source=table.source,
            )
        )
    return out
