"""An `*.op.json` query operation (the original Wesley's DSL), checked and resolved against the
IR: every table and column must exist, parameters take the type of the column they compare
with. A table or column may be named by its GraphQL name, its SQL name, or the original's
lower-cased form (`orderitem`, `createdat`).

```json
{"name": "orders_by_user", "table": "order", "columns": ["id", "status"],
 "filters": [{"column": "user_id", "op": "eq", "param": {"name": "user_id", "type": "uuid"}}],
 "joins": [{"table": "user", "alias": "u", "type": "left",
            "on": {"left": "user_id", "right": "u.id"}}],
 "lists": [{"alias": "items", "table": "orderitem", "match": {"local": "id", "foreign": "order_id"},
            "select": ["id", "quantity"], "orderBy": [{"column": "id"}]}],
 "orderBy": [{"column": "created_at", "dir": "desc", "nulls": "last"}], "limit": 100, "offset": 0}
```

Every problem is a `WesleyError` (exit 2) whose message starts with the file and the JSON path
of the offending value (`ops/x.op.json: $.filters[1].op`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from wesley.errors import WesleyError, input_error
from wesley.ir import IR, Column, Table
from wesley.naming import identifier_problem

FILTER_OPS = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "like",
    "ilike",
    "contains",
    "in",
    "isNull",
    "isNotNull",
)
# the original's parameter types, and what each means in PostgreSQL
PARAM_TYPES = {
    "text": "text",
    "uuid": "uuid",
    "int": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "jsonb": "jsonb",
    "bool": "boolean",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
    "timestamptz": "timestamptz",
    "float": "double precision",
    "double precision": "double precision",
}
_KEYS = {
    "op": {
        "name",
        "table",
        "alias",
        "columns",
        "filters",
        "joins",
        "lists",
        "orderBy",
        "limit",
        "offset",
        "description",
    },
    "filter": {"column", "op", "value", "param"},
    "param": {"name", "type"},
    "join": {"table", "alias", "type", "on"},
    "on": {"left", "right", "op"},
    "list": {
        "alias",
        "table",
        "tableAlias",
        "lateralAlias",
        "match",
        "select",
        "filters",
        "orderBy",
    },
    "match": {"local", "foreign"},
    "order": {"column", "dir", "nulls"},
    "select": {"column", "alias"},
}


@dataclass(frozen=True)
class Ref:
    """A column of one of the op's relations (`alias` is its alias in the query)."""

    alias: str
    table: Table
    column: Column


@dataclass(frozen=True)
class Param:
    name: str  # the op's name for it
    type: str  # PostgreSQL type, from the IR
    array: bool = False

    @property
    def sql_type(self) -> str:
        return self.type + ("[]" if self.array else "")


@dataclass(frozen=True)
class Filter:
    ref: Ref
    op: str
    value: Any = None
    param: Param | None = None


@dataclass(frozen=True)
class Order:
    ref: Ref
    dir: Literal["asc", "desc"] = "asc"
    nulls: Literal["first", "last"] | None = None


@dataclass(frozen=True)
class Join:
    table: Table
    alias: str
    kind: Literal["INNER", "LEFT"]
    left: Ref
    right: Ref
    op: str


@dataclass(frozen=True)
class Output:
    name: str
    ref: Ref


@dataclass(frozen=True)
class ListSpec:
    alias: str  # the output column (jsonb array)
    table: Table
    table_alias: str
    lateral_alias: str
    fields: list[tuple[str, Column]]
    match: tuple[Column, Ref] | None  # (foreign column of the list's table, local ref)
    filters: list[Filter]
    order: list[Order]


@dataclass
class Op:
    name: str
    file: str
    root: Table
    alias: str
    outputs: list[Output] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    joins: list[Join] = field(default_factory=list)
    lists: list[ListSpec] = field(default_factory=list)
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def params(self) -> list[Param]:
        """Each parameter once, in the order it first appears."""
        seen: dict[str, Param] = {}
        for f in [*self.filters, *(f for lst in self.lists for f in lst.filters)]:
            if f.param is not None and f.param.name not in seen:
                seen[f.param.name] = f.param
        return list(seen.values())


class _Ctx:
    def __init__(self, ir: IR, file: str) -> None:
        self.ir = ir
        self.file = file
        self.params: dict[str, Param] = {}

    def fail(
        self, path: str, message: str, hint: str | None = None, code: str = "OPS_INVALID"
    ) -> WesleyError:
        err = input_error(code, f"{self.file}: {path}: {message}", hint)
        err.details.update({"file": self.file, "path": path})
        return err


def _find(items: list[Any], given: str, names: Callable[[Any], tuple[str, str]]) -> list[Any]:
    """SQL name, GraphQL name, then the lower-cased forms (the original lower-cased names),
    then without underscores (`orderitem` for `order_item`)."""

    def folded(text: str) -> str:
        return text.lower().replace("_", "")

    rounds: list[Callable[[tuple[str, str]], bool]] = [
        lambda n: given == n[0],
        lambda n: given == n[1],
        lambda n: given.lower() in (n[0].lower(), n[1].lower()),
        lambda n: folded(given) in (folded(n[0]), folded(n[1])),
    ]
    for pick in rounds:
        found = [i for i in items if pick(names(i))]
        if found:
            return found
    return []


def resolve_table(ctx: _Ctx, given: Any, path: str) -> Table:
    if not isinstance(given, str) or not given.strip():
        raise ctx.fail(path, "a table name (a non-empty string) is required")
    found = _find(ctx.ir.tables, given.strip(), lambda t: (t.name, t.type_name))
    if len(found) != 1:
        tables = ", ".join(f"{t.type_name} ({t.name})" for t in ctx.ir.tables)
        raise ctx.fail(
            path,
            f"no table {given!r}" if not found else f"{given!r} names more than one table",
            f"tables: {tables}",
            "OPS_UNKNOWN_TABLE",
        )
    table: Table = found[0]
    return table


def resolve_column(ctx: _Ctx, table: Table, given: str, path: str) -> Column:
    found = _find(table.columns, given.strip(), lambda c: (c.name, c.field))
    if len(found) != 1:
        cols = ", ".join(
            c.field if c.field == c.name else f"{c.field} ({c.name})" for c in table.columns
        )
        raise ctx.fail(
            path,
            f"{table.type_name} has no column {given!r}"
            if not found
            else f"{given!r} names more than one column of {table.type_name}",
            f"columns: {cols}",
            "OPS_UNKNOWN_COLUMN",
        )
    column: Column = found[0]
    return column


def _keys(ctx: _Ctx, obj: Any, kind: str, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ctx.fail(path, f"expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _KEYS[kind])
    if unknown:
        raise ctx.fail(
            f"{path}.{unknown[0]}",
            f"unknown key {unknown[0]!r}",
            "keys here: " + ", ".join(sorted(_KEYS[kind])),
        )
    return obj


def _list(ctx: _Ctx, obj: Any, path: str) -> list[Any]:
    if obj is None:
        return []
    if not isinstance(obj, list):
        raise ctx.fail(path, "expected an array")
    return obj


def _alias(ctx: _Ctx, value: Any, default: str, path: str) -> str:
    if value is None:
        return default
    if (
        not isinstance(value, str)
        or not re.fullmatch(r"[a-z_][a-z0-9_]*", value)
        or identifier_problem(value)
    ):
        raise ctx.fail(path, f"alias {value!r} must be a lower-case identifier (a-z, 0-9, _)")
    return value


class _Scope:
    """The relations an op's column references may name: alias or table name → (alias, table)."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.rels: list[tuple[str, Table]] = []

    def add(self, alias: str, table: Table, path: str) -> None:
        if any(a == alias for a, _ in self.rels):
            raise self.ctx.fail(path, f"alias {alias!r} is used twice")
        self.rels.append((alias, table))

    def ref(self, given: Any, path: str) -> Ref:
        if not isinstance(given, str) or not given.strip():
            raise self.ctx.fail(path, "a column name (a non-empty string) is required")
        text = given.strip()
        alias, table = self.rels[0]
        if "." in text:
            head, _, text = text.partition(".")
            match = [r for r in self.rels if r[0] == head] or [
                r for r in self.rels if _find([r[1]], head, lambda t: (t.name, t.type_name))
            ]
            if len(match) != 1:
                known = ", ".join(a for a, _ in self.rels)
                raise self.ctx.fail(
                    path,
                    f"{head!r} is no relation of this op",
                    f"aliases: {known}",
                    "OPS_UNKNOWN_TABLE",
                )
            alias, table = match[0]
        return Ref(alias, table, resolve_column(self.ctx, table, text, path))


def _param(ctx: _Ctx, raw: Any, ref: Ref, op: str, path: str) -> Param:
    obj = _keys(ctx, raw, "param", path)
    name = obj.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ctx.fail(f"{path}.name", f"parameter name {name!r} must be an identifier")
    col = ref.column
    base = col.type.removesuffix("[]")
    if op in ("like", "ilike") or (op == "contains" and not col.array and base not in ("jsonb",)):
        typ, array = "text", False
    elif op == "in":
        typ, array = base, True
    else:
        typ, array = base, col.array
    declared = obj.get("type")
    if declared is not None:
        text = str(declared).strip().lower()
        want_array = text.endswith("[]")
        canonical = PARAM_TYPES.get(text.removesuffix("[]"))
        if canonical is None:
            raise ctx.fail(
                f"{path}.type",
                f"unsupported parameter type {declared!r}",
                "one of: " + ", ".join(sorted(set(PARAM_TYPES))),
            )
        if canonical != typ and not (col.enum and canonical == "text"):
            raise ctx.fail(
                f"{path}.type",
                f"parameter {name} is declared {declared!r} but compares with "
                f"{ref.table.name}.{col.name}, which is {col.type}",
                f"leave type: out (it comes from the schema) or write {typ!r}",
                "OPS_PARAM_TYPE_MISMATCH",
            )
        if want_array and not array and op != "in":
            raise ctx.fail(f"{path}.type", f"an array parameter needs op 'in', not {op!r}")
    if col.enum and op not in ("like", "ilike"):
        from wesley.sqltext import quote_ident

        typ = quote_ident(col.enum)
    param = Param(name, typ, array)
    before = ctx.params.get(name)
    if before is not None and before != param:
        raise ctx.fail(
            f"{path}.name",
            f"parameter {name} is used with two types ({before.sql_type}, {param.sql_type})",
            "give the second use another name",
            "OPS_PARAM_TYPE_MISMATCH",
        )
    ctx.params[name] = param
    return param


def _filters(ctx: _Ctx, scope: _Scope, raw: Any, path: str) -> list[Filter]:
    items = [raw] if isinstance(raw, dict) else _list(ctx, raw, path)
    out: list[Filter] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        obj = _keys(ctx, item, "filter", p)
        ref = scope.ref(obj.get("column"), f"{p}.column")
        op = str(obj.get("op", "eq"))
        if op not in FILTER_OPS:
            raise ctx.fail(
                f"{p}.op", f"unsupported filter op {op!r}", "one of: " + ", ".join(FILTER_OPS)
            )
        has_param, has_value = "param" in obj, "value" in obj
        if op in ("isNull", "isNotNull"):
            if has_param or has_value:
                raise ctx.fail(p, f"op {op!r} takes neither value nor param")
            out.append(Filter(ref, op))
            continue
        if has_param == has_value:
            raise ctx.fail(p, f"op {op!r} needs exactly one of value or param")
        if has_param:
            out.append(Filter(ref, op, param=_param(ctx, obj["param"], ref, op, f"{p}.param")))
            continue
        value = obj["value"]
        if op == "in" and not isinstance(value, list):
            raise ctx.fail(f"{p}.value", "op 'in' needs an array value")
        if op != "in" and isinstance(value, list) and not ref.column.array:
            raise ctx.fail(
                f"{p}.value", f"{ref.column.name} is not an array: an array value needs op 'in'"
            )
        if value is None and op not in ("eq", "ne"):
            raise ctx.fail(f"{p}.value", f"null compares only with eq or ne, not {op!r}")
        if op not in ("like", "ilike", "contains"):
            for v in value if isinstance(value, list) else [value]:
                if v is not None and not _fits(ref.column, v, op == "in" or ref.column.array):
                    raise ctx.fail(
                        f"{p}.value",
                        f"{v!r} is no value of {ref.table.name}.{ref.column.name} "
                        f"({ref.column.type})",
                        None,
                        "OPS_VALUE_TYPE_MISMATCH",
                    )
        out.append(Filter(ref, op, value=value))
    return out


_INTS = ("smallint", "integer", "bigint")
_NUMS = ("numeric", "double precision", "real")


def _fits(col: Column, value: Any, element: bool) -> bool:
    """A JSON value's kind against the column's type (PostgreSQL checks the rest)."""
    base = re.sub(r"\(.*\)", "", col.type.removesuffix("[]")).strip()
    if base in ("jsonb", "json"):
        return True
    if isinstance(value, list):
        return col.array and not element
    if isinstance(value, dict):
        return False
    if isinstance(value, bool):
        return base == "boolean"
    if base == "boolean":
        return False
    if isinstance(value, int):
        return base in _INTS + _NUMS
    if isinstance(value, float):
        return base in _NUMS
    return base not in _INTS + _NUMS or bool(re.fullmatch(r"-?\d+(\.\d+)?", str(value)))


def _order(ctx: _Ctx, scope: _Scope, raw: Any, path: str) -> list[Order]:
    items = [raw] if isinstance(raw, dict) else _list(ctx, raw, path)
    out: list[Order] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        obj = _keys(ctx, item, "order", p)
        ref = scope.ref(obj.get("column"), f"{p}.column")
        direction = str(obj.get("dir") or "asc").lower()
        if direction not in ("asc", "desc"):
            raise ctx.fail(f"{p}.dir", f"dir must be 'asc' or 'desc', not {obj.get('dir')!r}")
        nulls = obj.get("nulls")
        if nulls is not None and str(nulls).lower() not in ("first", "last"):
            raise ctx.fail(f"{p}.nulls", f"nulls must be 'first' or 'last', not {nulls!r}")
        out.append(
            Order(
                ref,
                "asc" if direction == "asc" else "desc",
                None if nulls is None else ("first" if str(nulls).lower() == "first" else "last"),
            )
        )
    return out


def _count(ctx: _Ctx, value: Any, path: str, allow_zero: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        what = "a non-negative" if allow_zero else "a positive"
        raise ctx.fail(path, f"must be {what} integer, not {value!r}")
    return value


def parse_op(data: Any, ir: IR, file: str) -> Op:
    ctx = _Ctx(ir, file)
    obj = _keys(ctx, data, "op", "$")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ctx.fail("$.name", "an op needs a name (a non-empty string)")
    root = resolve_table(ctx, obj.get("table"), "$.table")
    alias = _alias(ctx, obj.get("alias"), "t0", "$.alias")
    scope = _Scope(ctx)
    scope.add(alias, root, "$.alias")
    op = Op(name=name.strip(), file=file, root=root, alias=alias)
    for i, raw in enumerate(_list(ctx, obj.get("joins"), "$.joins")):
        p = f"$.joins[{i}]"
        j = _keys(ctx, raw, "join", p)
        table = resolve_table(ctx, j.get("table"), f"{p}.table")
        jalias = _alias(ctx, j.get("alias"), f"j{i}", f"{p}.alias")
        scope.add(jalias, table, f"{p}.alias")
        kind = str(j.get("type") or "inner").upper()
        if kind not in ("INNER", "LEFT"):
            raise ctx.fail(
                f"{p}.type", f"join type must be 'inner' or 'left', not {j.get('type')!r}"
            )
        on = _keys(ctx, j.get("on"), "on", f"{p}.on")
        left = scope.ref(on.get("left"), f"{p}.on.left")
        right_raw = on.get("right") or f"{jalias}.id"
        right = scope.ref(
            right_raw if "." in str(right_raw) else f"{jalias}.{right_raw}", f"{p}.on.right"
        )
        cmp = str(on.get("op") or "eq")
        if cmp not in ("eq", "ne", "lt", "lte", "gt", "gte"):
            raise ctx.fail(
                f"{p}.on.op", f"join op must compare (eq, ne, lt, lte, gt, gte), not {cmp!r}"
            )
        op.joins.append(
            Join(table, jalias, "LEFT" if kind == "LEFT" else "INNER", left, right, cmp)
        )
    columns = _list(ctx, obj.get("columns"), "$.columns")
    if not columns or columns == ["*"]:
        op.outputs = [Output(c.name, Ref(alias, root, c)) for c in root.columns]
    else:
        for i, raw in enumerate(columns):
            p = f"$.columns[{i}]"
            if isinstance(raw, dict):
                sel = _keys(ctx, raw, "select", p)
                ref = scope.ref(sel.get("column"), f"{p}.column")
                out_name = str(sel.get("alias") or ref.column.name)
            else:
                ref = scope.ref(raw, p)
                out_name = ref.column.name
            if any(o.name == out_name for o in op.outputs):
                raise ctx.fail(
                    p,
                    f"two output columns are named {out_name!r}",
                    'name one: {"column": "u.id", "alias": "user_id"}',
                )
            op.outputs.append(Output(out_name, ref))
    op.filters = _filters(ctx, scope, obj.get("filters"), "$.filters")
    for i, raw in enumerate(_list(ctx, obj.get("lists"), "$.lists")):
        op.lists.append(_list_spec(ctx, scope, raw, i))
        if any(o.name == op.lists[-1].alias for o in op.outputs):
            raise ctx.fail(
                f"$.lists[{i}].alias", f"{op.lists[-1].alias!r} is also a column of the op"
            )
    op.order = _order(ctx, scope, obj.get("orderBy"), "$.orderBy")
    op.limit = _count(ctx, obj.get("limit"), "$.limit", False)
    op.offset = _count(ctx, obj.get("offset"), "$.offset", True)
    return op


def _list_spec(ctx: _Ctx, scope: _Scope, raw: Any, i: int) -> ListSpec:
    p = f"$.lists[{i}]"
    obj = _keys(ctx, raw, "list", p)
    table = resolve_table(ctx, obj.get("table"), f"{p}.table")
    out_alias = _alias(ctx, obj.get("alias"), "items", f"{p}.alias")
    lateral = _alias(ctx, obj.get("lateralAlias"), f"l{i}", f"{p}.lateralAlias")
    talias = _alias(ctx, obj.get("tableAlias"), f"{lateral}_t", f"{p}.tableAlias")
    inner = _Scope(ctx)
    inner.add(talias, table, f"{p}.tableAlias")
    fields: list[tuple[str, Column]] = []
    selects = _list(ctx, obj.get("select"), f"{p}.select")
    for k, sel in enumerate(selects or [c.name for c in table.columns]):
        sp = f"{p}.select[{k}]"
        if isinstance(sel, dict):
            s = _keys(ctx, sel, "select", sp)
            col = resolve_column(ctx, table, str(s.get("column") or ""), f"{sp}.column")
            key = str(s.get("alias") or col.name)
        elif isinstance(sel, str):
            col = resolve_column(ctx, table, sel, sp)
            key = col.name
        else:
            raise ctx.fail(sp, "a select entry is a column name or {column, alias}")
        fields.append((key, col))
    match = None
    if obj.get("match") is not None:
        m = _keys(ctx, obj["match"], "match", f"{p}.match")
        foreign = resolve_column(ctx, table, str(m.get("foreign") or ""), f"{p}.match.foreign")
        local = scope.ref(m.get("local"), f"{p}.match.local")
        match = (foreign, local)
    filters = _filters(ctx, inner, obj.get("filters"), f"{p}.filters")
    if match is None and not filters:
        raise ctx.fail(
            p,
            "a list needs match {local, foreign} or filters",
            "else every row gets every row of the table",
        )
    return ListSpec(
        alias=out_alias,
        table=table,
        table_alias=talias,
        lateral_alias=lateral,
        fields=fields,
        match=match,
        filters=filters,
        order=_order(ctx, inner, obj.get("orderBy"), f"{p}.orderBy"),
    )
