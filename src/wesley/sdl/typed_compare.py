"""Comparing check and predicate expressions where PostgreSQL typed a literal.

`seen_at > '2000-01-01'` on a timestamptz column is stored by PostgreSQL as
`seen_at > '2000-01-01 00:00:00+00'::timestamp with time zone`: the untyped literal took the
column's type (PostgreSQL's rule for an `unknown` literal beside a typed operand) and is
printed back in its own format. Text comparison would see a change on every re-plan. Here a
string literal compared with a date/time column is read as a value of that column's type on
both sides, so the two spellings meet; on any other column (text, say) the literal stays as
written and `'2000-01-01'` ≠ `'2000-01-01 00:00:00'`, as PostgreSQL would say.

Wesley's sessions run with TimeZone UTC (wesley.db.session), so a timestamptz literal without
an offset means UTC both when a constraint is created and here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from pglast import ast, enums, parse_sql, visitors
from pglast.parser import ParseError
from pglast.stream import RawStream

from wesley.ir import Table
from wesley.sdl.expressions import comparable_expression
from wesley.sdl.literals import type_kind

_DATETIME_KINDS = frozenset(("timestamptz", "timestamp", "date"))
_COMPARISONS = frozenset(("=", "<>", "!=", "<", ">", "<=", ">="))


def datetime_columns(columns: dict[str, str]) -> frozenset[tuple[str, str]]:
    """(column, kind) for the columns of `columns` (name → SQL type) whose type is a date or
    timestamp: the only ones whose literals this module re-reads."""
    out = []
    for name, type_sql in columns.items():
        kind = type_kind(type_sql)
        if kind in _DATETIME_KINDS:
            out.append((name, kind))
    return frozenset(out)


def table_datetime_columns(*tables: Table) -> frozenset[tuple[str, str]]:
    """`datetime_columns` of the (non-enum, non-array) columns of `tables`."""
    return datetime_columns(
        {c.name: c.type for t in tables for c in t.columns if not c.enum and not c.array}
    )


def typed_comparable(sql: str | None, columns: frozenset[tuple[str, str]]) -> str | None:
    """`comparable_expression(sql)`, with every string literal compared (=, <>, <, >, <=,
    >=) to a date/time column of `columns` rewritten to its value in a canonical spelling
    (None for None or "")."""
    if not sql:
        return None
    if not columns:
        return comparable_expression(sql)
    return _typed(comparable_expression(sql), columns)


@lru_cache(maxsize=8192)
def _typed(sql: str, columns: frozenset[tuple[str, str]]) -> str:
    try:
        stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    except ParseError:
        return sql
    node = _Retype(dict(columns))(stmt.targetList[0].val)
    return str(RawStream()(node))


class _Retype(visitors.Visitor):
    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds

    def visit_A_Expr(self, ancestors: Any, node: Any) -> Any:
        if node.kind is not enums.A_Expr_Kind.AEXPR_OP or not node.name:
            return None
        if str(node.name[-1].sval) not in _COMPARISONS:
            return None
        left, right = node.lexpr, node.rexpr
        kind = self._kind(left) or self._kind(right)
        if kind is None:
            return None
        new_left, new_right = _retyped(left, kind), _retyped(right, kind)
        if new_left is left and new_right is right:
            return None
        return ast.A_Expr(kind=node.kind, name=node.name, lexpr=new_left, rexpr=new_right)

    def _kind(self, node: Any) -> str | None:
        if not isinstance(node, ast.ColumnRef) or not node.fields:
            return None
        last = node.fields[-1]
        return self.kinds.get(str(last.sval)) if isinstance(last, ast.String) else None


def _retyped(node: Any, kind: str) -> Any:
    if not isinstance(node, ast.A_Const) or not isinstance(node.val, ast.String):
        return node
    value = canonical_datetime(str(node.val.sval), kind)
    if value is None:
        return node
    return ast.A_Const(isnull=False, val=ast.String(sval=value))


def canonical_datetime(text: str, kind: str) -> str | None:
    """ISO 8601 text of `text` read as a `kind` (timestamptz: in UTC, an offset-less value
    taken as UTC; timestamp: an offset is ignored, as PostgreSQL ignores it; date: the day),
    or None when Python cannot read it (it is then compared as written)."""
    t = text.strip()
    if t.lower() in ("infinity", "-infinity"):
        return t.lower()
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if kind == "timestamptz":
        aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if kind == "timestamp":
        return dt.replace(tzinfo=None).isoformat()
    return date(dt.year, dt.month, dt.day).isoformat()
