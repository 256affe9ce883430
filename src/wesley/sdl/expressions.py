"""SQL expressions from the schema (`expr:` defaults, checks, index predicates, RLS rules).

Each is parsed by PostgreSQL's own parser (pglast) as exactly one expression and re-rendered
from the parse tree, so what reaches SQL is what PostgreSQL understood, never the user's text
pasted as is: `1; DROP TABLE x`, a trailing `-- comment` or `1) FROM t WHERE (1` are errors.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pglast import ast, enums, parse_sql, visitors
from pglast.parser import ParseError
from pglast.stream import RawStream

from wesley.errors import Location, input_error

# SelectStmt parts that must stay empty: anything there means the text escaped its parens.
_SELECT_EXTRAS = (
    "distinctClause",
    "intoClause",
    "fromClause",
    "whereClause",
    "groupClause",
    "havingClause",
    "windowClause",
    "valuesLists",
    "sortClause",
    "limitOffset",
    "limitCount",
    "lockingClause",
    "withClause",
    "larg",
    "rarg",
)


_WITH_TIME_ZONE = re.compile(r"^timestamp(\(\d+\))? with time zone")


class ExprKind(Enum):
    DEFAULT = "default"  # no subquery, no column reference (PostgreSQL forbids both)
    CHECK = "check"  # no subquery
    INDEX_WHERE = "index predicate"  # no subquery
    POLICY = "policy"  # anything an expression may hold


class _Finder(visitors.Visitor):
    def __init__(self) -> None:
        self.kinds: set[str] = set()

    def visit(self, ancestors: Any, node: Any) -> None:
        self.kinds.add(type(node).__name__)


def normalize_expression(text: str, kind: ExprKind, where: Location | None, what: str) -> str:
    """Return the canonical SQL of `text`, or raise INVALID_EXPRESSION naming `what`."""
    hint = f"{what} must be one SQL expression, e.g. now(), 'draft', price > 0"
    if not text.strip():
        raise input_error("INVALID_EXPRESSION", f"{what} is empty", hint, where)
    if ";" in text:
        raise input_error(
            "INVALID_EXPRESSION",
            f"{what} contains ';': {text!r}",
            hint + "; a ';' would start a second statement",
            where,
        )
    try:
        stmts = parse_sql(f"SELECT ({text})")
    except ParseError as exc:
        raise input_error(
            "INVALID_EXPRESSION", f"{what} is not a valid SQL expression: {exc}", hint, where
        ) from None
    stmt = stmts[0].stmt if len(stmts) == 1 else None
    if (
        not isinstance(stmt, ast.SelectStmt)
        or stmt.targetList is None
        or len(stmt.targetList) != 1
        or any(getattr(stmt, part, None) for part in _SELECT_EXTRAS)
    ):
        raise input_error(
            "INVALID_EXPRESSION", f"{what} is not a single expression: {text!r}", hint, where
        )
    node = stmt.targetList[0].val
    finder = _Finder()
    finder(node)
    if kind is not ExprKind.POLICY and "SubLink" in finder.kinds:
        raise input_error(
            "INVALID_EXPRESSION",
            f"{what} contains a subquery, which PostgreSQL does not allow in a {kind.value}",
            "use a function or a trigger instead",
            where,
        )
    if kind is ExprKind.DEFAULT and "ColumnRef" in finder.kinds:
        raise input_error(
            "INVALID_EXPRESSION",
            f"{what} refers to a column, which PostgreSQL does not allow in a default",
            "a default cannot read other columns; did you mean a string literal? "
            "then use value: instead of expr:",
            where,
        )
    return str(RawStream()(node))


def is_function_call(text: str) -> bool:
    """True when `text` parses as a bare call such as `now()` or `CURRENT_TIMESTAMP`."""
    if ";" in text:
        return False
    try:
        stmts = parse_sql(f"SELECT ({text})")
    except ParseError:
        return False
    stmt = stmts[0].stmt if len(stmts) == 1 else None
    if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList or len(stmt.targetList) != 1:
        return False
    if any(getattr(stmt, part, None) for part in _SELECT_EXTRAS):
        return False
    return isinstance(stmt.targetList[0].val, ast.FuncCall | ast.SQLValueFunction)


def normalize_type_name(text: str, where: Location | None, what: str) -> str:
    """A PostgreSQL type name (`numeric(12,2)`, `varchar(20)[]`), re-rendered by pglast."""
    hint = "a PostgreSQL type name, e.g. numeric(12,2), varchar(40), text[]"
    try:
        stmts = parse_sql(f"SELECT NULL::{text}") if ";" not in text else []
    except ParseError:
        stmts = []
    stmt: Any = stmts[0].stmt if len(stmts) == 1 else None
    ok = (
        isinstance(stmt, ast.SelectStmt)
        and stmt.targetList is not None
        and len(stmt.targetList) == 1
        and not any(getattr(stmt, part, None) for part in _SELECT_EXTRAS)
        and isinstance(stmt.targetList[0].val, ast.TypeCast)
    )
    if not ok:
        raise input_error("INVALID_TYPE_NAME", f"{what} {text!r} is not a type name", hint, where)
    assert stmt is not None  # ok implies it
    rendered = str(RawStream()(stmt.targetList[0].val.typeName))
    # pglast keeps the SQL-standard spelling; Wesley's canonical one is PostgreSQL's short name
    return _WITH_TIME_ZONE.sub(r"timestamptz\1", rendered)


_NUMERIC_TYPES = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8"})
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?$")


def _literal(node: Any) -> Any:
    """The constant under any number of casts, or None. A negative number PostgreSQL stores as
    a string cast to its type (`'-5'::integer`, `('-0.5'::numeric)::double precision`) comes
    back as the number the schema wrote (`-5`, `-0.5`)."""
    if isinstance(node, ast.A_Const):
        return node
    if not isinstance(node, ast.TypeCast):
        return None
    inner = _literal(node.arg)
    if inner is None:
        return None
    names = node.typeName.names if node.typeName is not None else None
    type_name = str(names[-1].sval) if names else ""
    val = getattr(inner, "val", None)
    if (
        type_name in _NUMERIC_TYPES
        and isinstance(val, ast.String)
        and _NUMBER_TEXT.match(str(val.sval))
    ):
        text = str(val.sval)
        number = ast.Float(fval=text) if "." in text else ast.Integer(ival=int(text))
        return ast.A_Const(isnull=False, val=number)
    return inner


class _Canonical(visitors.Visitor):
    """The shapes PostgreSQL's parser rewrites before it stores an expression: `x BETWEEN a
    AND b` → `x >= a AND x <= b` (NOT: `x < a OR x > b`), `x IN (a, b)` → `x = ANY
    (ARRAY[a, b])` (NOT IN: `<> ALL`; one element: `x = a`)."""

    def visit_A_Expr(self, ancestors: Any, node: Any) -> Any:
        kind = node.kind
        if kind in (enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_NOT_BETWEEN):
            lo, hi = node.rexpr
            yes = kind is enums.A_Expr_Kind.AEXPR_BETWEEN
            ops, bool_op = ((">=", "<="), "AND_EXPR") if yes else (("<", ">"), "OR_EXPR")
            return ast.BoolExpr(
                boolop=getattr(enums.BoolExprType, bool_op),
                args=(_op(ops[0], node.lexpr, lo), _op(ops[1], node.lexpr, hi)),
            )
        if kind is enums.A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple | list):
            name = str(node.name[0].sval)
            if len(node.rexpr) == 1:
                return _op(name, node.lexpr, node.rexpr[0])
            kinds = enums.A_Expr_Kind
            any_all = kinds.AEXPR_OP_ANY if name == "=" else kinds.AEXPR_OP_ALL
            return ast.A_Expr(
                kind=any_all,
                name=(ast.String(sval=name),),
                lexpr=node.lexpr,
                rexpr=ast.A_ArrayExpr(elements=tuple(node.rexpr)),
            )
        return None


def _op(name: str, left: Any, right: Any) -> Any:
    return ast.A_Expr(
        kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=name),), lexpr=left, rexpr=right
    )


class _DropLiteralCasts(visitors.Visitor):
    """`'x'::text` → `'x'`: PostgreSQL adds these casts when it stores an expression."""

    def visit_TypeCast(self, ancestors: Any, node: Any) -> Any:
        return _literal(node)


def comparable_expression(sql: str) -> str:
    """A spelling of `sql` in which what PostgreSQL stores (`pg_get_expr`) and what the schema
    said compare equal: parsed, literal casts dropped, re-rendered, lower-cased keywords."""
    try:
        stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    except ParseError:
        return sql
    node = stmt.targetList[0].val
    node = _Canonical()(node)
    node = _DropLiteralCasts()(node)
    return str(RawStream()(node))


class _ColumnRefs(visitors.Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> None:
        fields = list(node.fields or [])
        if len(fields) == 1 and isinstance(fields[0], ast.String):
            self.names.add(str(fields[0].sval))


def column_refs(sql: str) -> set[str]:
    """Unqualified column names an expression reads (`price > 0` → {"price"})."""
    try:
        stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    except ParseError:
        return set()
    finder = _ColumnRefs()
    finder(stmt.targetList[0].val)
    return finder.names


class _RenameRefs(visitors.Visitor):
    def __init__(self, mapping: dict[str, str], qualifier: str | None) -> None:
        self.mapping, self.qualifier = mapping, qualifier

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> Any:
        fields = list(node.fields or [])
        if not fields or not all(isinstance(f, ast.String) for f in fields) or len(fields) > 2:
            return None
        name = str(fields[-1].sval)
        if len(fields) == 2 or name not in self.mapping:
            return None
        head = [ast.String(sval=self.qualifier)] if self.qualifier else []
        return ast.ColumnRef(fields=(*head, ast.String(sval=self.mapping[name])))


def rename_columns(sql: str, mapping: dict[str, str], qualifier: str | None = None) -> str:
    """`sql` with its unqualified column references renamed (`price > 0` with {price: cost}
    → `cost > 0`); with `qualifier`, every renamed reference is qualified by it (`NEW.cost`).
    References to columns not in `mapping` are left as they are. Parsed and re-rendered by
    pglast, never edited as text."""
    if not mapping:
        return sql
    stmt = parse_sql(f"SELECT ({sql})")[0].stmt
    assert isinstance(stmt, ast.SelectStmt) and stmt.targetList
    node = _RenameRefs(mapping, qualifier)(stmt.targetList[0].val)
    return str(RawStream()(node))


def bare_type(type_sql: str) -> str:
    """A type name without its modifier (`varchar(20)` → `varchar`, `numeric(12,2)[]` →
    `numeric[]`), re-rendered by pglast."""
    stmt = parse_sql(f"SELECT NULL::{type_sql}")[0].stmt
    assert isinstance(stmt, ast.SelectStmt) and stmt.targetList
    type_name = stmt.targetList[0].val.typeName
    bare = ast.TypeName(names=type_name.names, arrayBounds=type_name.arrayBounds)
    return str(RawStream()(bare))
