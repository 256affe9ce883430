"""A checked op → SQL: one SELECT (joins, LATERAL lists aggregated with `jsonb_agg`, filters,
ordering with the primary key as tie-breaker, limit/offset), wrapped as a function
(`wes_ops.op_<name>(p_<param> <type>, ...)`, `RETURNS TABLE` typed from the IR, LANGUAGE sql,
STABLE, SECURITY INVOKER) and as a view (`security_invoker`, so row-level security applies to
whoever reads it). Every identifier goes through `quote_ident`, every value through
`quote_literal` with a cast to its column's type."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wesley.ir import Column
from wesley.qir.spec import Filter, ListSpec, Op, Order, Output, Param, Ref
from wesley.sqltext import column_type, quote_ident, quote_literal

SCHEMA = "wes_ops"
_CMP = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def op_identifier(name: str) -> str:
    """The original's naming: lower case, runs of other characters → `_`, prefixed `op_`."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "unnamed"
    if base[0].isdigit():
        base = "_" + base
    return f"op_{'unnamed' if base == 'op' else base}"


def param_identifier(p: Param) -> str:
    return "p_" + re.sub(r"[^a-z0-9]+", "_", p.name.lower()).strip("_")


def _col(ref: Ref) -> str:
    return f"{quote_ident(ref.alias)}.{quote_ident(ref.column.name)}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def literal(value: Any, col: Column, element: bool = False) -> str:
    """A JSON value as an SQL literal of the column's type (of its element type, for `in`)."""
    typ = column_type(col)
    if col.array and (element or not isinstance(value, list)):
        typ = typ.removesuffix("[]")
    if col.array and isinstance(value, list) and not element:
        items = ", ".join(literal(v, col, True) for v in value)
        return f"ARRAY[{items}]::{typ}"
    if col.type.removesuffix("[]") == "jsonb" and not element:
        return f"{quote_literal(json.dumps(value, sort_keys=True))}::jsonb"
    return f"{quote_literal(_scalar(value))}::{typ}"


@dataclass(frozen=True)
class Lowered:
    """The SQL of one op. `select` takes the parameters as $1..$n in `params` order."""

    name: str
    params: list[Param]
    select: str
    view_select: str
    view_columns: list[tuple[str, str]]  # (name, type) of the view
    columns: list[tuple[str, str]]  # (name, type) of the function's rows


def _predicate(f: Filter, params: list[Param]) -> str:
    col = _col(f.ref)
    if f.op == "isNull":
        return f"{col} IS NULL"
    if f.op == "isNotNull":
        return f"{col} IS NOT NULL"
    if f.param is not None:
        right = f"${params.index(f.param) + 1}"
    elif f.op in ("like", "ilike") or (f.op == "contains" and _texty(f.ref.column)):
        right = quote_literal(str(f.value))
    elif f.op == "in":
        values = list(f.value)
        if not values:
            return "false"  # nothing is in an empty list
        right = "ARRAY[" + ", ".join(literal(v, f.ref.column, True) for v in values) + "]"
        return f"{col} = ANY ({right})"
    elif f.value is None:
        return f"{col} IS {'NOT ' if f.op == 'ne' else ''}NULL"
    else:
        right = literal(f.value, f.ref.column)
    if f.op in _CMP:
        return f"{col} {_CMP[f.op]} {right}"
    if f.op == "in":
        return f"{col} = ANY ({right})"
    if f.op == "contains" and not _texty(f.ref.column):
        return f"{col} @> {right}"
    # like / ilike, and contains on text (the original's fallback: ILIKE with the pattern)
    word = "LIKE" if f.op == "like" else "ILIKE"
    cast = "" if _texty(f.ref.column) else "::text"
    return f"{col}{cast} {word} {right}"


def _texty(col: Column) -> bool:
    return not col.array and col.type.removesuffix("[]") not in ("jsonb", "json")


def _order(items: list[Order], tie: list[str]) -> list[str]:
    out = []
    for o in items:
        nulls = f" NULLS {o.nulls.upper()}" if o.nulls else ""
        out.append(f"{_col(o.ref)} {o.dir.upper()}{nulls}")
    have = {_col(o.ref) for o in items}
    return out + [f"{t} ASC" for t in tie if t not in have]


def _lateral(lst: ListSpec, params: list[Param], view: bool) -> str:
    ta = quote_ident(lst.table_alias)
    pairs = ", ".join(f"{quote_literal(k)}, {ta}.{quote_ident(c.name)}" for k, c in lst.fields)
    tie = [f"{ta}.{quote_ident(c)}" for c in lst.table.primary_key]
    order = _order(lst.order, tie)
    agg = f"jsonb_agg(jsonb_build_object({pairs})" + (
        f" ORDER BY {', '.join(order)})" if order else ")"
    )
    conds = []
    if lst.match is not None:
        foreign, local = lst.match
        conds.append(f"{ta}.{quote_ident(foreign.name)} = {_col(local)}")
    # a view has no parameters: its lists keep their fixed filters only
    conds += [_predicate(f, params) for f in lst.filters if not (view and f.param)]
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return (
        f"LEFT JOIN LATERAL (SELECT COALESCE({agg}, '[]'::jsonb) AS {quote_ident(lst.alias)} "
        f"FROM public.{quote_ident(lst.table.name)} AS {ta}{where}) AS "
        f"{quote_ident(lst.lateral_alias)} ON true"
    )


def _select(
    op: Op, outputs: list[Output], filters: list[Filter], params: list[Param], view: bool
) -> str:
    paged = not view or not params
    cols = [f"{_col(o.ref)} AS {quote_ident(o.name)}" for o in outputs]
    cols += [f"{quote_ident(lst.lateral_alias)}.{quote_ident(lst.alias)}" for lst in op.lists]
    lines = [
        "SELECT " + ", ".join(cols),
        f"FROM public.{quote_ident(op.root.name)} AS {quote_ident(op.alias)}",
    ]
    for j in op.joins:
        lines.append(
            f"{j.kind} JOIN public.{quote_ident(j.table.name)} AS {quote_ident(j.alias)} "
            f"ON {_col(j.left)} {_CMP[j.op]} {_col(j.right)}"
        )
    lines += [_lateral(lst, params, view) for lst in op.lists]
    if filters:
        lines.append("WHERE " + " AND ".join(_predicate(f, params) for f in filters))
    tie = [f"{quote_ident(op.alias)}.{quote_ident(c)}" for c in op.root.primary_key]
    order = _order(op.order, tie)
    if order:
        lines.append("ORDER BY " + ", ".join(order))
    if paged and op.limit is not None:
        lines.append(f"LIMIT {op.limit}")
    if paged and op.offset is not None:
        lines.append(f"OFFSET {op.offset}")
    return "\n".join(lines)


def _types(outputs: list[Output], op: Op) -> list[tuple[str, str]]:
    return [(o.name, column_type(o.ref.column)) for o in outputs] + [
        (lst.alias, "jsonb") for lst in op.lists
    ]


def view_outputs(op: Op) -> list[Output]:
    """The view shows the op's columns plus every column a parameter filters on (a view has
    no parameters: the reader filters instead)."""
    outputs = list(op.outputs)
    for f in op.filters:
        if f.param is None or any(o.ref == f.ref for o in outputs):
            continue
        name = f.ref.column.name
        if any(o.name == name for o in outputs) or any(lst.alias == name for lst in op.lists):
            name = f"{f.ref.alias}_{name}"
        outputs.append(Output(name, f.ref))
    return outputs


def lower(op: Op) -> Lowered:
    params = op.params
    fixed = [f for f in op.filters if f.param is None]
    shown = view_outputs(op)
    return Lowered(
        name=op_identifier(op.name),
        params=params,
        select=_select(op, op.outputs, op.filters, params, False),
        view_select=_select(op, shown, fixed, params, True),
        view_columns=_types(shown, op),
        columns=_types(op.outputs, op),
    )


def view_sql(low: Lowered) -> str:
    return (
        f"CREATE OR REPLACE VIEW {SCHEMA}.{quote_ident(low.name)} WITH (security_invoker = true) "
        f"AS\n{low.view_select}"
    )


def function_signature(low: Lowered) -> str:
    return ", ".join(f"{param_identifier(p)} {p.sql_type}" for p in low.params)


def function_sql(low: Lowered) -> str:
    table = ", ".join(f"{quote_ident(n)} {t}" for n, t in low.columns)
    tag = "$wes$"
    while tag in low.select:
        tag = tag[:-1] + "_$"
    return (
        f"CREATE OR REPLACE FUNCTION {SCHEMA}.{quote_ident(low.name)}({function_signature(low)})"
        f"\nRETURNS TABLE ({table})\nLANGUAGE sql STABLE SECURITY INVOKER\nAS {tag}\n"
        f"{low.select}\n{tag}"
    )
